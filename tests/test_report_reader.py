"""Reports as a reader sees them: the HTML parses, every image it shows exists with a sane size and
shape, and no section only says it has nothing to show."""
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import pytest

from archsim import api, result as result_mod
from archsim.report import write_report
from archsim.report.figures import breakdown_name, breakdown_title, readable_kind

MAX_ASPECT = 8.0


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.headings, self._in_heading, self.open_tags = [], [], False, []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs).get("src"))
        if tag in ("h2", "h3"):
            self._in_heading = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag in ("h2", "h3"):
            self._in_heading = False

    def handle_data(self, data):
        if self._in_heading:
            self.headings[-1] += data


@pytest.fixture(scope="module", params=[("tianjic", {}), ("h2learn", {"mode": "train", "batch": 2})],
                ids=["tianjic", "h2learn"])
def report(request, tmp_path_factory):
    chip, options = request.param
    folder = tmp_path_factory.mktemp(chip)
    result = api.run("mlp-digits", chip, steps=2, gpu="v100", **options)
    source = folder / "result.json"
    result_mod.write(result, source)
    return write_report(source, folder / "report"), chip


def test_every_image_exists_with_a_sane_size_and_shape(report):
    index, _ = report
    parser = _Images()
    parser.feed(index.read_text())
    parser.close()
    assert parser.images
    for src in parser.images:
        path = index.parent / src
        assert path.is_file(), src
        height, width = matplotlib.image.imread(path).shape[:2]
        assert 200 <= width <= 4000 and 150 <= height <= 4000, (src, width, height)
        assert max(width / height, height / width) <= MAX_ASPECT, (src, width, height)


def test_no_heading_is_a_raw_field_name_and_no_empty_family_section(report):
    index, chip = report
    parser = _Images()
    parser.feed(index.read_text())
    headings = " | ".join(parser.headings)
    assert "by per" not in headings and "_" not in headings, headings
    assert ("Engines" in headings) == (chip == "h2learn") and ("Mesh" in headings) == (chip == "tianjic"), headings


def test_reader_names():
    assert breakdown_name("per_phase") == "phase" and breakdown_title("per_core_busy") == "Busy cycles per core"
    assert readable_kind("du_zero_fraction") == "zero dL/du skipped by the BE"
    assert readable_kind("grad_zero_fraction") == "grad zero"   # an unknown kind still loses its field syntax
