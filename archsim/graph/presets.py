"""Exporter presets: how each framework runs a NIR file, for the conventions a NIR file cannot say.

A NIR file describes continuous-time neurons; every framework that runs one picks a time step, a reset
rule, a spike rule and a discretisation, and most write files that only their own reading runs as
trained. ``--from FRAMEWORK`` (``from_=`` in :func:`archsim.api.load_network`) reads a file as that
framework's importer does; an explicit ``--dt``, ``--reset`` or ``--spikes`` wins over the preset.
Each rule below cites the framework code that does it (the versions named are the ones read):

=========  =======  ============  ========  =======  ==============================================
preset     dt (s)   reset         fires at  spikes   discretisation (LIF / IF input gain)
=========  =======  ============  ========  =======  ==============================================
nir        1e-4     zero          v > th    single   NIR: decay 1 - dt/tau, gain r dt/tau; IF gain r dt
snntorch   1e-4     zero          v > th    single   as nir (its files carry r = tau/dt, so gain 1)
norse      1e-3     zero          v > th    single   decay 1 - dt/tau, gain dt/tau (r unread); IF gain 1
sinabs     1 (*)    subtract_now  v >= th   multi    decay exp(-1/tau), gain 1; IF gain 1, v >= -th
rockpool   1e-3     subtract_now  v >= th   multi    decay exp(-dt/tau), gain 1; IF gain 1
spyx       1 (*)    subtract      v > th    single   decay 1 - dt/tau, gain 1; spikes one step late
nengo      1e-3     zero          v > th    single   decay exp(-dt/tau), gain r (1 - exp(-dt/tau))
=========  =======  ============  ========  =======  ==============================================

(*) the framework reads time constants in steps (``dt = 1`` unit).

* **snnTorch** 1.0.0 ``snntorch/import_nir.py``: LIF -> ``snn.Leaky(reset_mechanism="zero",
  reset_delay=False)``, Heaviside ``mem - threshold > 0``; export writes ``tau = dt / (1 - beta)``,
  ``r = tau / dt`` at ``dt = 1e-4``. A Leaky trained with the default subtractive reset needs
  ``--reset subtract`` (the file cannot say; a guess).
* **Norse** 1.1.0 ``norse/torch/utils/import_nir.py`` (``from_nir(..., dt=0.001)``): LIF -> ``LIFBoxCell``
  with ``tau_mem_inv = 1 / tau`` (``r`` and ``v_reset`` unread: ``dv = dt / tau (v_leak - v + i)``),
  IF -> ``IAFCell`` (``v = v + i``), Heaviside ``x > 0``, reset to 0.
* **Sinabs** 3.1.3 ``sinabs/nir.py``: IF -> ``IAFSqueeze(spike_threshold=v_threshold,
  min_v_mem=-v_threshold)``, LIF -> ``LIFSqueeze(tau_mem=tau, norm_input=False)``; its layers
  (``layers/functional/lif.py``) do ``v = exp(-1 / tau) v + i``, ``MultiSpike``: ``s = trunc(v / th)``
  where ``v > 0``, ``MembraneSubtract``: ``v = v - s th``, then the ``min_v_mem`` floor. A layer
  trained with ``SingleSpike`` (``s = v >= th``) needs ``--spikes single`` (a guess).
* **Rockpool** 2.9 ``rockpool/nn/modules/torch/lif_neuron_torch.py`` (``dt = 1e-3`` default):
  ``v = exp(-dt / tau) v + i + bias``, ``StepPWL``: ``s = floor(v / th)`` where ``v >= th``,
  ``v = v - s th``; its export writes ``r = tau exp(-dt / tau) / dt``.
* **Spyx** ``spyx/nn.py`` ``LIF``: ``s = heaviside(V - th)`` on the *previous* ``V``, then
  ``V = beta V + x - s th``: snnTorch's delayed subtraction with each spike reported one step late;
  ``spyx/nir.py`` ``from_nir(..., dt=1)`` reads ``beta = 1 - dt / tau``. archsim delays what each LIF sends
  on by that step; the network's outputs are then Spyx's one step earlier (Spyx's step ``t + 1``).
* **Nengo** has no NIR exporter; the NIR paper's ``nir_to_nengo.py`` runs a file on ``nengo.LIF``
  (``nengo.Simulator`` ``dt = 1e-3``), whose step is the exact exponential
  ``v = v + (r i - v)(1 - exp(-dt / tau))``, reset to 0. Its refractory period (2 ms by default) is
  not modelled (a guess: files run with ``tau_ref = 0``).

The preset changes only LIF and IF nodes without ``archsim.reset`` metadata (archsim's own files say
what they are) and the time step; CubaLIF, LI and the rest keep NIR's forward-Euler semantics at the
preset's ``dt``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from archsim.errors import UserError

RESETS = ("zero", "subtract", "subtract_now")
SPIKE_RULES = ("single", "multi")


@dataclass(frozen=True)
class Conventions:
    """The conventions in force when a NIR file is read, and where each came from.

    ``decay``: ``"euler"`` (``1 - dt / tau``) or ``"exp"`` (``exp(-dt / tau)``); ``lif_gain``: ``"r_dt_tau"``
    (NIR: ``r dt / tau``), ``"dt_tau"`` (``r`` unread), ``"one"`` (``v += i``) or ``"r_zoh"``
    (``r (1 - exp(-dt / tau))``); ``if_gain``: ``"r_dt"`` or ``"one"``; ``v_min``: ``"none"`` or
    ``"minus_threshold"`` (IF only); ``spike_lag_steps``: steps by which the framework reports a LIF's
    spikes late. ``origin`` maps a field to ``"preset"``, ``"explicit"`` or ``"default"``; ``guesses``
    names the fields the file cannot say and the framework may have chosen otherwise.
    """

    preset: str = "nir"
    dt: float = 1e-4
    reset: str = "zero"
    fire_at_threshold: bool = False
    spikes: str = "single"
    decay: str = "euler"
    lif_gain: str = "r_dt_tau"
    if_gain: str = "r_dt"
    v_min: str = "none"
    spike_lag_steps: int = 0
    origin: tuple[tuple[str, str], ...] = ()
    guesses: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        """One line per convention: its value, where it came from, and whether it is a guess."""
        origin = dict(self.origin)
        rows = [("dt", f"{self.dt:g} s"), ("reset", self.reset),
                ("fires at", "v >= threshold" if self.fire_at_threshold or self.spikes == "multi" else "v > threshold"),
                ("spikes", "graded counts (multi-spike)" if self.spikes == "multi" else "0/1"),
                ("discretisation", f"decay {self.decay}, LIF gain {self.lif_gain}, IF gain {self.if_gain}")]
        if self.v_min != "none":
            rows.append(("membrane floor", "-threshold (IF)"))
        if self.spike_lag_steps:
            rows.append(("spike lag", f"{self.spike_lag_steps} step (the framework reports spikes late)"))
        key = {"dt": "dt", "reset": "reset", "spikes": "spikes"}
        lines = []
        for label, value in rows:
            field = key.get(label, "preset")
            source = origin.get(field, "preset" if self.preset != "nir" else "default")
            guess = "  (a guess: the file cannot say)" if field in self.guesses and source != "explicit" else ""
            lines.append(f"{label}: {value} [{source}]{guess}")
        return lines


PRESETS: dict[str, Conventions] = {
    "nir": Conventions(),
    "snntorch": Conventions(preset="snntorch", guesses=("reset",)),
    "norse": Conventions(preset="norse", dt=1e-3, lif_gain="dt_tau", if_gain="one"),
    "sinabs": Conventions(preset="sinabs", dt=1.0, reset="subtract_now", fire_at_threshold=True, spikes="multi",
                          decay="exp", lif_gain="one", if_gain="one", v_min="minus_threshold", guesses=("spikes",)),
    "rockpool": Conventions(preset="rockpool", dt=1e-3, reset="subtract_now", fire_at_threshold=True,
                            spikes="multi", decay="exp", lif_gain="one", if_gain="one", guesses=("dt",)),
    "spyx": Conventions(preset="spyx", dt=1.0, reset="subtract", lif_gain="one", if_gain="one", spike_lag_steps=1,
                        guesses=("dt",)),
    "nengo": Conventions(preset="nengo", dt=1e-3, decay="exp", lif_gain="r_zoh", guesses=("reset",)),
}
FRAMEWORKS = tuple(name for name in PRESETS if name != "nir")


def conventions(from_: str | None = None, dt: float | None = None, reset: str | None = None,
                spikes: str | None = None) -> Conventions:
    """The preset ``from_`` (None: NIR's own semantics) with any explicit ``dt``, ``reset`` or ``spikes`` over it."""
    if from_ is not None and from_ not in FRAMEWORKS:
        raise UserError(f"--from: {from_!r} is not allowed (allowed: {', '.join(FRAMEWORKS)})")
    if reset is not None and reset not in RESETS:
        raise UserError(f"--reset: {reset!r} is not allowed (allowed: {', '.join(RESETS)})")
    if spikes is not None and spikes not in SPIKE_RULES:
        raise UserError(f"--spikes: {spikes!r} is not allowed (allowed: {', '.join(SPIKE_RULES)})")
    base = PRESETS[from_ or "nir"]
    origin = {"dt": "preset" if from_ else "default", "reset": "preset" if from_ else "default",
              "spikes": "preset" if from_ else "default"}
    changes = {}
    for name, value in (("dt", dt), ("reset", reset), ("spikes", spikes)):
        if value is not None:
            changes[name] = value
            origin[name] = "explicit"
    return dataclasses.replace(base, origin=tuple(sorted(origin.items())), **changes)
