"""One estimator per component class: energy per action, area and leakage per instance, with sources.

The Accelergy habit: a chip config lists components (a class, its attributes, a count); each class's
estimator turns the attributes and the technology table into an Energy Reference Table (pJ per action)
and an Area Reference Table (mm^2 per instance), plus leakage (mW per instance). Every figure carries a
source string naming the formula and the table entries (with their own sources) it used.

Classes, attributes (required; optional = default) and actions:

==============  ===============================================================  =============
class           attributes                                                       actions
==============  ===============================================================  =============
sram            size_kb, width_bits; banks=1                                     read, write
register_file   entries, width_bits                                              read, write
fifo            depth, width_bits                                                push, pop
lut             entries, width_bits; implementation=auto (register_file|sram)    read, write
adder           width_bits; number=int (int|fp)                                  add
multiplier      width_bits; number=int                                           multiply
mac             width_bits; number=int, accumulator_bits=2 x width (int) / width mac
comparator      width_bits                                                       compare
router          ports, flit_bits; buffer_flits=4                                 route
link            width_bits, length_mm; area_mm2=0                                transfer
offchip_link    width_bits; pj_per_bit=table, area_mm2=0                         transfer
dram            kind, width_bits; pj_per_bit=table, area_mm2=0, bandwidth_gb_s   read, write
logic           gates; activity=0.1                                              cycle
fixed           energy_pj {action: pJ}, source; area_mm2=0, leakage_mw=0         keys of energy_pj
==============  ===============================================================  =============

Every component also takes ``count`` (default 1) and ``power_gated`` (default false; see
``archsim.cost.evaluate``). One action is one access of ``width_bits`` (sram, register_file, lut, dram),
one operation (adder, multiplier, mac, comparator), one flit through one router (router), one
``width_bits`` word over the link (link, offchip_link) or one clock cycle of activity (logic).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from archsim.cost.technology import Technology
from archsim.errors import UserError


@dataclass(frozen=True)
class Estimate:
    """A figure (pJ, mm^2 or mW) and where it comes from (the table entries used, with their sources)."""

    value: float
    source: str


@dataclass(frozen=True)
class Attr:
    """An attribute spec: ``kind`` is count (int >= 1), positive, nonneg, bool, mapping, text or a tuple of choices."""

    kind: object
    default: object = None
    required: bool = True


def optional(kind, default) -> Attr:
    """An attribute that may be left out; ``default`` is used then."""
    return Attr(kind, default, required=False)


COMMON_ATTRS = {"count": optional("count", 1), "power_gated": optional("bool", False),
                "description": optional("text", "")}


class Estimator(ABC):
    """Base: ``attrs`` are validated attributes (defaults filled); subclasses define the figures."""

    component_class = ""
    actions: tuple[str, ...] = ()
    attributes: dict[str, Attr] = {}

    def __init__(self, name: str, attrs: dict, tech: Technology):
        self.name = name
        self.attrs = attrs
        self.tech = tech

    def action_names(self) -> tuple[str, ...]:
        """The actions this component can be charged for (the Trace's action names)."""
        return self.actions

    @abstractmethod
    def energy_pj(self, action: str) -> Estimate:
        """Energy of one ``action`` of one instance, in pJ at the chip's voltage."""

    @abstractmethod
    def area_mm2(self) -> Estimate:
        """Area of one instance, in mm^2."""

    @abstractmethod
    def leakage_mw(self) -> Estimate:
        """Leakage power of one instance, in mW at the chip's voltage."""

    # helpers shared by the classes
    def _energy(self, value_pj: float, formula: str, names) -> Estimate:
        """A dynamic energy at the table's voltage, rescaled to the chip's voltage."""
        scale = self.tech.dynamic_scale
        volt = "" if scale == 1 else f" x (V/V_nominal)^2={scale:.4g}"
        return Estimate(value_pj * scale, f"{formula}{volt} [{self.tech.path}: {self.tech.cite(names)}]")

    def _logic_leakage(self, area: Estimate) -> Estimate:
        density = self.tech.value("logic_leakage_mw_per_mm2")
        return Estimate(area.value * density * self.tech.leakage_scale,
                        f"area x logic leakage density x V/V_nominal [{self.tech.path}: "
                        f"{self.tech.cite(['logic_leakage_mw_per_mm2'])}]")


def width_curve(tech: Technology, prefix: str, suffix: str, width: int) -> tuple[float, list[str]]:
    """A table quantity at ``width`` bits from the entries ``<prefix><bits><suffix>``.

    Exact width: the entry. Otherwise a power law through the two nearest widths (log-log
    interpolation; beyond the ends, the nearest segment extended). With one entry: linear in width.
    """
    points = tech.names_matching(prefix, suffix)
    if not points:
        tech.entry(f"{prefix}{width}{suffix}")   # raises the missing-entry error
    if width in points:
        return tech.value(points[width]), [points[width]]
    widths = list(points)
    if len(widths) == 1:
        w0 = widths[0]
        return tech.value(points[w0]) * width / w0, [points[w0]]
    if width < widths[0]:
        i = 0
    elif width > widths[-1]:
        i = len(widths) - 2
    else:
        i = max(j for j in range(len(widths) - 1) if widths[j] < width)
    lo, hi = widths[i], widths[i + 1]
    v_lo, v_hi = tech.value(points[lo]), tech.value(points[hi])
    slope = math.log(v_hi / v_lo) / math.log(hi / lo)
    return v_lo * (width / lo) ** slope, [points[lo], points[hi]]


def _arith(tech: Technology, op: str, number: str, width: int, suffix: str, where: str) -> tuple[float, list[str]]:
    """Energy (``_pj``) or area (``_um2``) of an int or fp add/mult at ``width`` bits."""
    if number == "fp":
        name = f"{op}_fp{width}{suffix}"
        if name not in tech.entries:
            have = sorted(tech.names_matching(f"{op}_fp", suffix))
            raise UserError(f"{where}.width_bits: {width} has no fp entry in {tech.path} "
                            f"(allowed with number: fp: {', '.join(map(str, have))})")
        return tech.value(name), [name]
    return width_curve(tech, f"{op}_int", suffix, width)


class Sram(Estimator):
    """SRAM macro: per-bit energy and per-KB area/leakage from power-law fits over CACTI points.

    read/write of ``width_bits`` = width x e_bit(bank size) x (width / 8)^(-port exponent); a banked
    SRAM reads one bank of ``size_kb / banks``; area and leakage are ``banks`` times one bank's.
    """

    component_class = "sram"
    actions = ("read", "write")
    attributes = {"size_kb": Attr("positive"), "width_bits": Attr("count"), "banks": optional("count", 1)}

    @property
    def bank_kb(self) -> float:
        return self.attrs["size_kb"] / self.attrs["banks"]

    def energy_pj(self, action):
        t, width = self.tech, self.attrs["width_bits"]
        coef, exponent, port = (f"sram_{action}_pj_per_bit_at_1kb", f"sram_{action}_size_exponent",
                                "sram_port_width_exponent")
        per_bit = t.value(coef) * self.bank_kb ** t.value(exponent) * (width / 8) ** (-t.value(port))
        return self._energy(width * per_bit, f"{width} bits x fit({self.bank_kb:g} KB bank) x port({width} b)",
                            [coef, exponent, port])

    def _per_kb(self, what: str, unit: str) -> tuple[float, list[str]]:
        coef, exponent = f"sram_{what}_{unit}_at_1kb", f"sram_{what}_size_exponent"
        one_bank = self.tech.value(coef) * self.bank_kb ** self.tech.value(exponent) * self.bank_kb
        return one_bank * self.attrs["banks"], [coef, exponent]

    def area_mm2(self):
        value, names = self._per_kb("area", "mm2_per_kb")
        return Estimate(value, f"{self.attrs['banks']} x fit({self.bank_kb:g} KB) [{self.tech.path}: "
                               f"{self.tech.cite(names)}]")

    def leakage_mw(self):
        value, names = self._per_kb("leakage", "mw_per_kb")
        return Estimate(value * self.tech.leakage_scale,
                        f"{self.attrs['banks']} x fit({self.bank_kb:g} KB) x V/V_nominal [{self.tech.path}: "
                        f"{self.tech.cite(names)}]")


class RegisterFile(Estimator):
    """Flip-flop register file: a read goes through a log2(entries)-level 2:1 mux tree per bit."""

    component_class = "register_file"
    actions = ("read", "write")
    attributes = {"entries": Attr("count"), "width_bits": Attr("count")}

    def energy_pj(self, action):
        width, levels = self.attrs["width_bits"], math.ceil(math.log2(self.attrs["entries"])) if self.attrs["entries"] > 1 else 0
        if action == "read":
            per_bit = self.tech.value("register_pj_per_bit") + levels * self.tech.value("mux2_pj_per_bit")
            return self._energy(width * per_bit, f"{width} bits x (register + {levels} mux2 levels)",
                                ["register_pj_per_bit", "mux2_pj_per_bit"])
        return self._energy(width * self.tech.value("register_pj_per_bit"), f"{width} bits x register",
                            ["register_pj_per_bit"])

    def area_mm2(self):
        bits = self.attrs["entries"] * self.attrs["width_bits"]
        per_bit = self.tech.value("register_um2_per_bit") + self.tech.value("mux2_um2_per_bit")
        return Estimate(bits * per_bit * 1e-6, f"{bits} bits x (register + mux2) [{self.tech.path}: "
                                               f"{self.tech.cite(['register_um2_per_bit', 'mux2_um2_per_bit'])}]")

    def leakage_mw(self):
        return self._logic_leakage(self.area_mm2())


class Fifo(Estimator):
    """First-in first-out queue of ``depth`` entries of ``width_bits``, built from flip-flops.

    The entries are a register file of ``depth`` x ``width_bits`` (:class:`RegisterFile`: a push writes
    one entry, a pop reads the head through a log2(depth)-level mux tree); beside them a head and a tail
    pointer of ceil(log2 depth) flip-flops each, in the area and written once by every push (tail) or
    pop (head). The full/empty compare of the two pointers (a few gates) is left out. Every item that
    passes is pushed and popped once: an item that the next stage takes in the cycle it arrives is
    still written (no bypass path; assumption, docs/core.md).
    """

    component_class = "fifo"
    actions = ("push", "pop")
    attributes = {"depth": Attr("count"), "width_bits": Attr("count")}

    def __init__(self, name, attrs, tech):
        super().__init__(name, attrs, tech)
        self.entries = RegisterFile(name, {"entries": attrs["depth"], "width_bits": attrs["width_bits"]}, tech)
        depth = attrs["depth"]
        self.pointer_bits = math.ceil(math.log2(depth)) if depth > 1 else 0

    def energy_pj(self, action):
        inner = self.entries.energy_pj("write" if action == "push" else "read")
        pointer = self.pointer_bits * self.tech.value("register_pj_per_bit") * self.tech.dynamic_scale
        return Estimate(inner.value + pointer, f"{action}: entry {'write' if action == 'push' else 'read'} "
                                               f"{inner.source} + {self.pointer_bits}-bit pointer register")

    def area_mm2(self):
        inner = self.entries.area_mm2()
        pointers = 2 * self.pointer_bits * self.tech.value("register_um2_per_bit") * 1e-6
        return Estimate(inner.value + pointers, f"{self.attrs['depth']} x {self.attrs['width_bits']}-bit entries "
                                                f"{inner.source} + 2 pointers of {self.pointer_bits} flip-flops")

    def leakage_mw(self):
        return self._logic_leakage(self.area_mm2())


LUT_REGISTER_FILE_MAX_BITS = 4096   # assumption: tables up to 512 B are built from flip-flops, larger from SRAM


class Lut(Estimator):
    """Look-up table: a register file up to 4 Kbit (assumption), an SRAM above, unless ``implementation`` says."""

    component_class = "lut"
    actions = ("read", "write")
    attributes = {"entries": Attr("count"), "width_bits": Attr("count"),
                  "implementation": optional(("auto", "register_file", "sram"), "auto")}

    def __init__(self, name, attrs, tech):
        super().__init__(name, attrs, tech)
        bits = attrs["entries"] * attrs["width_bits"]
        kind = attrs["implementation"]
        if kind == "auto":
            kind = "register_file" if bits <= LUT_REGISTER_FILE_MAX_BITS else "sram"
        if kind == "sram":
            self.inner = Sram(name, {"size_kb": bits / 8192, "width_bits": attrs["width_bits"], "banks": 1}, tech)
        else:
            self.inner = RegisterFile(name, {"entries": attrs["entries"], "width_bits": attrs["width_bits"]}, tech)
        self.kind = kind

    def _tag(self, est: Estimate) -> Estimate:
        return Estimate(est.value, f"lut as {self.kind}: {est.source}")

    def energy_pj(self, action):
        return self._tag(self.inner.energy_pj(action))

    def area_mm2(self):
        return self._tag(self.inner.area_mm2())

    def leakage_mw(self):
        return self._tag(self.inner.leakage_mw())


class _Arithmetic(Estimator):
    op = ""
    attributes = {"width_bits": Attr("count"), "number": optional(("int", "fp"), "int")}

    def _where(self):
        return f"components.{self.name}"

    def energy_pj(self, action):
        value, names = _arith(self.tech, self.op, self.attrs["number"], self.attrs["width_bits"], "_pj", self._where())
        return self._energy(value, f"{self.attrs['number']}{self.attrs['width_bits']} {self.op}", names)

    def area_mm2(self):
        value, names = _arith(self.tech, self.op, self.attrs["number"], self.attrs["width_bits"], "_um2", self._where())
        return Estimate(value * 1e-6, f"{self.attrs['number']}{self.attrs['width_bits']} {self.op} "
                                      f"[{self.tech.path}: {self.tech.cite(names)}]")

    def leakage_mw(self):
        return self._logic_leakage(self.area_mm2())


class Adder(_Arithmetic):
    """An adder of ``width_bits`` (``number``: int or fp): energy and area from the table's add entries."""

    component_class, actions, op = "adder", ("add",), "add"


class Multiplier(_Arithmetic):
    """A multiplier of ``width_bits`` (``number``: int or fp): energy and area from the table's mult entries."""

    component_class, actions, op = "multiplier", ("multiply",), "mult"


class Mac(Estimator):
    """Multiply-accumulate: a multiply, an add at the accumulator width and the accumulator register write."""

    component_class = "mac"
    actions = ("mac",)
    attributes = {"width_bits": Attr("count"), "number": optional(("int", "fp"), "int"),
                  "accumulator_bits": optional("count", None)}

    def _acc_bits(self) -> int:
        acc = self.attrs["accumulator_bits"]
        if acc is None:
            acc = self.attrs["width_bits"] * (2 if self.attrs["number"] == "int" else 1)
        return acc

    def _parts(self, suffix: str):
        where, number, width = f"components.{self.name}", self.attrs["number"], self.attrs["width_bits"]
        mult, n1 = _arith(self.tech, "mult", number, width, suffix, where)
        add, n2 = _arith(self.tech, "add", number, self._acc_bits(), suffix, where)
        reg_name = "register_pj_per_bit" if suffix == "_pj" else "register_um2_per_bit"
        reg = self._acc_bits() * self.tech.value(reg_name)
        return mult + add + reg, n1 + n2 + [reg_name]

    def energy_pj(self, action):
        value, names = self._parts("_pj")
        return self._energy(value, f"{self.attrs['number']}{self.attrs['width_bits']} multiply + "
                                   f"{self._acc_bits()}-bit add + accumulator register", names)

    def area_mm2(self):
        value, names = self._parts("_um2")
        return Estimate(value * 1e-6, f"multiplier + {self._acc_bits()}-bit adder + accumulator register "
                                      f"[{self.tech.path}: {self.tech.cite(names)}]")

    def leakage_mw(self):
        return self._logic_leakage(self.area_mm2())


class Comparator(Estimator):
    """Magnitude comparator: energy linear in width from the 16-bit entry; area per bit."""

    component_class = "comparator"
    actions = ("compare",)
    attributes = {"width_bits": Attr("count")}

    def energy_pj(self, action):
        width = self.attrs["width_bits"]
        return self._energy(self.tech.value("compare_int16_pj") * width / 16, f"16-bit compare x {width}/16",
                            ["compare_int16_pj"])

    def area_mm2(self):
        width = self.attrs["width_bits"]
        return Estimate(width * self.tech.value("comparator_um2_per_bit") * 1e-6,
                        f"{width} bits [{self.tech.path}: {self.tech.cite(['comparator_um2_per_bit'])}]")

    def leakage_mw(self):
        return self._logic_leakage(self.area_mm2())


class Router(Estimator):
    """Input-buffered mesh router; ``route`` is one flit through one router.

    Per flit: a write and a read of the input buffer (flip-flops, read through a log2(buffer_flits)
    mux tree), a ports:1 crossbar mux (log2(ports) 2:1 levels) and crossbar wire of
    ``router_crossbar_mm_per_port`` x ports. Arbitration and routing-table look-up are not included
    (a routing table is its own component). Area: buffers plus a ports x (ports - 1) mux crossbar.
    """

    component_class = "router"
    actions = ("route",)
    attributes = {"ports": Attr("count"), "flit_bits": Attr("count"), "buffer_flits": optional("count", 4)}

    def energy_pj(self, action):
        t, a = self.tech, self.attrs
        buffer_levels = math.ceil(math.log2(a["buffer_flits"])) if a["buffer_flits"] > 1 else 0
        port_levels = math.ceil(math.log2(a["ports"])) if a["ports"] > 1 else 0
        per_bit = (2 * t.value("register_pj_per_bit") + (buffer_levels + port_levels) * t.value("mux2_pj_per_bit")
                   + t.value("wire_pj_per_bit_mm") * t.value("router_crossbar_mm_per_port") * a["ports"])
        return self._energy(a["flit_bits"] * per_bit,
                            f"{a['flit_bits']} bits x (buffer write + read, {buffer_levels + port_levels} mux2 "
                            f"levels, crossbar wire of {a['ports']} ports)",
                            ["register_pj_per_bit", "mux2_pj_per_bit", "wire_pj_per_bit_mm",
                             "router_crossbar_mm_per_port"])

    def area_mm2(self):
        t, a = self.tech, self.attrs
        buffer_bits = a["ports"] * a["buffer_flits"] * a["flit_bits"]
        crossbar_muxes = a["ports"] * (a["ports"] - 1) * a["flit_bits"]
        um2 = buffer_bits * (t.value("register_um2_per_bit") + t.value("mux2_um2_per_bit")) \
            + crossbar_muxes * t.value("mux2_um2_per_bit")
        return Estimate(um2 * 1e-6, f"{buffer_bits} buffer bits + {crossbar_muxes} crossbar mux2 "
                                    f"[{t.path}: {t.cite(['register_um2_per_bit', 'mux2_um2_per_bit'])}]")

    def leakage_mw(self):
        return self._logic_leakage(self.area_mm2())


class _Offcore(Estimator):
    """Shared by wires and off-chip parts: area only if the config gives it, no leakage modelled."""

    def area_mm2(self):
        area = self.attrs["area_mm2"]
        return Estimate(area, "area_mm2 from the config" if area else
                        "0: wires run over logic / off-die part (set area_mm2 to count it)")

    def leakage_mw(self):
        return Estimate(0.0, "0: not modelled (no static power for wires, PHYs or DRAM background)")


class Link(_Offcore):
    """On-chip wire of ``length_mm``: ``transfer`` moves one ``width_bits`` word."""

    component_class = "link"
    actions = ("transfer",)
    attributes = {"width_bits": Attr("count"), "length_mm": Attr("positive"), "area_mm2": optional("nonneg", 0.0)}

    def energy_pj(self, action):
        a = self.attrs
        return self._energy(a["width_bits"] * a["length_mm"] * self.tech.value("wire_pj_per_bit_mm"),
                            f"{a['width_bits']} bits x {a['length_mm']:g} mm", ["wire_pj_per_bit_mm"])


class OffchipLink(_Offcore):
    """Chip-to-chip link: ``transfer`` moves one ``width_bits`` word; PHY energy is not voltage-scaled."""

    component_class = "offchip_link"
    actions = ("transfer",)
    attributes = {"width_bits": Attr("count"), "pj_per_bit": optional("positive", None),
                  "area_mm2": optional("nonneg", 0.0)}

    def energy_pj(self, action):
        width, given = self.attrs["width_bits"], self.attrs["pj_per_bit"]
        if given is not None:
            return Estimate(width * given, f"{width} bits x pj_per_bit {given:g} from the config")
        per_bit = self.tech.value("offchip_link_pj_per_bit")
        return Estimate(width * per_bit, f"{width} bits [{self.tech.path}: {self.tech.cite(['offchip_link_pj_per_bit'])}]")


class Dram(_Offcore):
    """DRAM access of ``width_bits`` (interface and core together, by kind); not voltage-scaled."""

    component_class = "dram"
    actions = ("read", "write")
    attributes = {"kind": Attr(("ddr3", "ddr4", "lpddr4", "hbm2", "hbm3")), "width_bits": Attr("count"),
                  "pj_per_bit": optional("positive", None), "area_mm2": optional("nonneg", 0.0),
                  "bandwidth_gb_s": optional("positive", None)}   # for the timing models; not used in cost

    def energy_pj(self, action):
        width, given = self.attrs["width_bits"], self.attrs["pj_per_bit"]
        if given is not None:
            return Estimate(width * given, f"{width} bits x pj_per_bit {given:g} from the config")
        name = f"dram_{self.attrs['kind']}_pj_per_bit"
        return Estimate(width * self.tech.value(name), f"{width} bits [{self.tech.path}: {self.tech.cite([name])}]")


class Logic(Estimator):
    """Random logic of ``gates`` NAND2 equivalents; ``cycle`` is one clock cycle of activity."""

    component_class = "logic"
    actions = ("cycle",)
    attributes = {"gates": Attr("count"), "activity": optional("positive", 0.1)}   # assumption: 0.1 toggle rate, the usual default of synthesis power tools

    def energy_pj(self, action):
        a = self.attrs
        return self._energy(a["gates"] * a["activity"] * self.tech.value("logic_pj_per_gate_cycle"),
                            f"{a['gates']} gates x activity {a['activity']:g} (default 0.1 is an assumption)",
                            ["logic_pj_per_gate_cycle"])

    def area_mm2(self):
        return Estimate(self.attrs["gates"] * self.tech.value("nand2_um2") * 1e-6,
                        f"{self.attrs['gates']} NAND2 [{self.tech.path}: {self.tech.cite(['nand2_um2'])}]")

    def leakage_mw(self):
        return self._logic_leakage(self.area_mm2())


class Fixed(Estimator):
    """Calibrated figures given in the config, used as they are (no technology or voltage scaling)."""

    component_class = "fixed"
    attributes = {"energy_pj": Attr("mapping"), "source": Attr("text"), "area_mm2": optional("nonneg", 0.0),
                  "leakage_mw": optional("nonneg", 0.0)}

    def action_names(self):
        return tuple(self.attrs["energy_pj"])

    def energy_pj(self, action):
        return Estimate(float(self.attrs["energy_pj"][action]), f"fixed: {self.attrs['source']}")

    def area_mm2(self):
        return Estimate(float(self.attrs["area_mm2"]), f"fixed: {self.attrs['source']}")

    def leakage_mw(self):
        return Estimate(float(self.attrs["leakage_mw"]), f"fixed: {self.attrs['source']}")


ESTIMATORS: dict[str, type[Estimator]] = {cls.component_class: cls for cls in (
    Sram, RegisterFile, Fifo, Lut, Adder, Multiplier, Mac, Comparator, Router, Link, OffchipLink, Dram, Logic, Fixed)}
