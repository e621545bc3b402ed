"""Run a privacy–utility sweep: per setting, train the target, audit it, save it; resume what is saved.

:func:`run_sweep` wires the stages and nothing else: data
(the pipeline's loader, :func:`privaudit.pipeline.load_data`), the feature encoder
(:mod:`privaudit.sweep.encoder`), training (:func:`privaudit.models.train_classifier`),
the audit (the pipeline's :func:`privaudit.pipeline.audit`, with a
:class:`~privaudit.reference.plan.ReferencePlan` whose models the
content-addressed :class:`~privaudit.reference.store.ReferenceStore` caches),
and the sweep document (:mod:`privaudit.sweep.summary`).

Output folder::

    encoder.skops                       the fitted feature encoder (skops, no pickle)
    settings/<name>/model.safetensors   the setting's target weights
    settings/<name>/result.json         fingerprint, training info (DP accountant), the audit's report.json figures
    sweep.json, sweep.html              the frontier (written at the end, from every result.json)

**Resuming.** A setting is skipped when its ``result.json`` carries the
fingerprint the config gives it now and its weights match the recorded
SHA-256; anything else (a changed setting, a run killed mid-setting) is
redone. The fingerprint hashes everything that changes the result: data
(ids, features, labels, roles), encoder, factory (and its source code),
arguments, training, DP, output defence, attacks, metrics, reference block,
seed and the versions of privaudit, torch, scikit-learn and (with DP) Opacus —
not the setting's name, ``compute`` or ``output``. Settings that train alike
(the same ``training_key``: they differ only in ``output_defence``) share one
trained target (its weights are copied) and, through the store, one set of
reference models. Files are written to a temporary name and renamed
(``os.replace``): a run killed at any point leaves no half-written file, and
``result.json`` — written last — is what marks a setting finished.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from privaudit._version import __version__
from privaudit.exceptions import ConfigError, require
from privaudit.output_folder import OutputFolder
from privaudit.progress import prefixed, track
from privaudit.sweep.results import RESULT_FILE, SETTING_FORMAT, WEIGHTS_FILE, clean_temporary, find_trained, read_result
from privaudit.sweep.settings import ResolvedSetting, attack_specs, check_augmented, check_setting, resolve_settings

__all__ = ["run_sweep", "SweepRun", "ENCODER_FILE"]

ENCODER_FILE = "encoder.skops"


@dataclass
class SweepRun:
    """What :func:`run_sweep` did: the ``sweep.json`` document, files written, and which settings ran or were resumed."""

    document: dict
    files: dict
    ran: list
    resumed: list


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode()


def _sha256(obj) -> str:
    return hashlib.sha256(_canonical(obj)).hexdigest()


# -- data and model -----------------------------------------------------------
def _load_data(config, base_dir: Path):
    """Records and roles; validation records (for early stopping) are drawn from the population and leave it."""
    from privaudit.data import AuditData
    from privaudit.pipeline import load_data

    d, m = config.data, config.data.membership
    if m.randomized:
        raise ConfigError("data.membership.randomized: a sweep trains its targets on the members itself, so membership is not coin-flipped; remove the key")
    path = base_dir / d.path
    if not path.is_file():
        raise ConfigError(f"data.path: data file {path} not found (paths are relative to the sweep config's folder {base_dir}); "
                          "give an existing CSV or Parquet file — privaudit sweep --example adult DIR writes the Adult example's")
    data = load_data(d, base_dir)
    n_validation = config.model.validation_size
    validation = np.empty(0, dtype=np.intp)
    population = data.population
    if n_validation:
        if n_validation >= population.size:
            raise ConfigError(f"model.validation_size: {n_validation} validation records are taken from the {population.size} population records, "
                              "which must keep some for the encoder and reference models; use a smaller validation_size")
        chosen = np.sort(np.random.default_rng([config.seed, 0x5EE9]).choice(population.size, n_validation, replace=False))
        validation = population[chosen]
        population = np.delete(population, chosen)
    return AuditData(data.records, data.members, data.nonmembers, population, source=data.source), validation


def _data_digest(data, validation: np.ndarray) -> str:
    from privaudit.reference.store import records_digest

    ids = data.records.ids.astype(str)
    return _sha256({
        "records": records_digest(data.records),
        "members": ids[data.members].tolist(), "nonmembers": ids[data.nonmembers].tolist(),
        "population": ids[data.population].tolist(), "validation": ids[validation].tolist(),
    })


def _factory_source(factory: str, base_dir: Path, trust_code: bool):
    import inspect

    from privaudit.targets.base import import_object

    function = import_object(factory, base_dir, "model.factory", trust_code=trust_code)
    try:
        return function, hashlib.sha256(inspect.getsource(function).encode()).hexdigest()
    except (OSError, TypeError):
        return function, None


def _training_dict(training) -> dict:
    values = dataclasses.asdict(training)
    if values["dp"] is None:
        del values["dp"]
    return values


# -- one setting ----------------------------------------------------------------
class _Sweep:
    """State shared by the settings of one run (data, encoder, store, backend choices)."""

    def __init__(self, config, base_dir: Path, out: Path, say: Callable[[str], None]) -> None:
        self.config, self.base_dir, self.out, self.say = config, base_dir, out, say
        self.torch = require("torch", "torch")
        self.safetensors = require("safetensors.torch", "torch")
        self.data, self.validation = _load_data(config, base_dir)
        records = self.data.records
        fit_on = self.data.population if self.data.population.size else self.data.members
        from privaudit.sweep.encoder import build_encoder, fit_encoder

        self.encoder = fit_encoder(build_encoder(records.features, config.model.encoder), records.features.iloc[fit_on])
        self.n_inputs = int(self.encoder.transform(records.features.iloc[:1]).shape[1])
        self.n_classes = len(records.classes)
        self.factory, self.factory_sha = _factory_source(config.model.factory, base_dir, config.trust_code)
        self.common = {
            "format": SETTING_FORMAT, "privaudit": __version__, "torch": self.torch.__version__, "seed": config.seed,
            "data": _data_digest(self.data, self.validation), "encoder": config.model.encoder.model_dump(mode="json"),
            "factory": config.model.factory, "factory_source_sha256": self.factory_sha, "outputs": config.model.outputs,
        }
        import sklearn

        self.common["scikit-learn"] = sklearn.__version__
        store = Path(config.compute.store)
        self.store = store if store.is_absolute() else base_dir / store
        self._backends: dict[str, str] = {}
        self._inputs: dict[str, np.ndarray] = {}
        self.trusted_types: list[str] = []
        self.folder: OutputFolder | None = None  # set by run_sweep once the output folder is checked and locked

    def output_kind(self, setting: ResolvedSetting) -> str:
        """What the setting's target answers once its output defence is applied."""
        from privaudit.targets.output_defence import OutputDefence

        kind = self.config.model.outputs
        return kind if setting.output_defence is None else OutputDefence(**setting.output_defence).output_kind(kind)

    # keys
    def kwargs(self, setting: ResolvedSetting) -> dict:
        return {"n_inputs": self.n_inputs, "n_classes": self.n_classes, **setting.factory_kwargs}

    def training_key(self, setting: ResolvedSetting) -> str:
        extra = {"opacus": require("opacus", "dp").__version__} if setting.training.dp is not None else {}
        return _sha256({**self.common, **extra, "factory_kwargs": self.kwargs(setting), "training": _training_dict(setting.training)})

    def fingerprint(self, setting: ResolvedSetting, training_key: str, attacks) -> str:
        c = self.config
        return _sha256({
            "training_key": training_key, "output_defence": setting.output_defence, "attacks": attacks,
            "metrics": c.metrics.model_dump(mode="json"), "reference": None if c.reference is None else c.reference.model_dump(mode="json"),
        })

    # training
    def inputs(self, role: str) -> tuple[np.ndarray, np.ndarray]:
        positions = {"members": self.data.members, "validation": self.validation}[role]
        if role not in self._inputs:
            features = self.data.records.features.iloc[positions]
            self._inputs[role] = np.require(np.asarray(self.encoder.transform(features), dtype=np.float32), requirements=["C", "W"])
        return self._inputs[role], self.data.records.labels[positions]

    def build(self, setting: ResolvedSetting):
        self.torch.manual_seed(self.config.seed)  # initial weights: the same draw for every setting of one architecture
        module = self.factory(**self.kwargs(setting))
        if not isinstance(module, self.torch.nn.Module):
            raise ConfigError(f"model.factory: {self.config.model.factory} returned {type(module).__name__}, not a torch.nn.Module")
        return module

    def train(self, setting: ResolvedSetting, description: str = "training"):
        from privaudit import models

        module = self.build(setting)
        x, y = self.inputs("members")
        validation = self.inputs("validation") if setting.training.patience else None
        with track(self.say, description, setting.training.epochs, "epochs") as advance:  # a bar of epochs, with the loss
            info = models.train_classifier(module, x, y, setting.training, seed=self.config.seed, validation=validation, on_epoch=lambda e, loss: advance(1, note=f"training loss {loss:.3g}"))
        return module, info

    def load(self, setting: ResolvedSetting, weights: bytes):
        module = self.build(setting)
        module.load_state_dict(self.safetensors.load(weights))
        return module.eval()

    # audit
    def plan(self, setting: ResolvedSetting, epochs_run: int):
        from privaudit.reference.plan import ReferencePlan
        from privaudit.reference.recipes import TorchRecipe
        from privaudit.targets.output_defence import OutputDefence

        ref = self.config.reference
        if ref is None:
            return None
        # reference models train a fixed number of epochs: those the (early-stopped) target ran
        training = dataclasses.replace(setting.training, patience=0, epochs=int(epochs_run) if setting.training.patience else setting.training.epochs)
        recipe = TorchRecipe(self.config.model.factory, self.kwargs(setting), training, transform=self.encoder,
                             output_kind=self.config.model.outputs, base_dir=self.base_dir, trust_code=self.config.trust_code)
        compute = self.config.compute
        backend = compute.backend
        if backend == "local":  # choose once per recipe, so settings that train alike use the same store keys
            key = _sha256(recipe.fingerprint())
            if key not in self._backends:
                probe = ReferencePlan(recipe, n_models=ref.models, backend="local", n_jobs=compute.n_jobs)
                self._backends[key], _, reason = probe.resolve()
                self.say(f"{setting.name}: reference models train on backend {reason}")
            backend = self._backends[key]
        train_size = ref.train_size if ref.train_size is not None or ref.mode == "online" else int(self.data.members.size)
        return ReferencePlan(
            recipe, n_models=ref.models, mode=ref.mode, fraction=ref.fraction, train_size=train_size,
            include_population=ref.include_population, store=self.store, backend=backend, n_jobs=compute.n_jobs,
            ray_address=compute.ray_address,
            output_defence=None if setting.output_defence is None else OutputDefence(**setting.output_defence),
        )

    def target(self, setting: ResolvedSetting, module):
        from privaudit.targets import TorchTarget
        from privaudit.targets.output_defence import defend

        return defend(TorchTarget(module, name=setting.name, output_kind=self.config.model.outputs, transform=self.encoder), setting.output_defence)


def _run_setting(sweep: _Sweep, setting: ResolvedSetting, prefix: str, training_key: str, fingerprint: str, specs, skipped: list[str]) -> dict:
    """Train (or take over) the setting's target, audit it, write its folder; returns the saved result."""
    from privaudit.pipeline import audit
    from privaudit.report.json_report import report_dict, strict_json_value

    config, say = sweep.config, sweep.say
    started = time.perf_counter()
    reused = find_trained(sweep.out / "settings", training_key)
    if reused is not None:
        saved_from, weights = reused
        module = sweep.load(setting, weights)
        info = {k: saved_from["trained"][k] for k in ("epochs_run", "best_validation_loss", "dp")}
        training_s, reused_from = 0.0, saved_from["trained"].get("reused_from") or saved_from["name"]
        say(f"{prefix}: trains exactly like '{saved_from['name']}'; reusing its trained target")
    else:
        module, info = sweep.train(setting, f"{prefix}: training ({setting.description}) on {sweep.data.members.size:,} members")
        training_s, reused_from = time.perf_counter() - started, None
        weights = sweep.safetensors.save({k: v.detach().contiguous() for k, v in module.state_dict().items()})
    target = sweep.target(setting, module)
    if skipped:
        say(f"{prefix}: the target answers labels only; skipping {', '.join(skipped)}")
    plan = sweep.plan(setting, info["epochs_run"])
    audit_started = time.perf_counter()
    result = audit(
        sweep.data, [target], specs, fprs=config.metrics.fprs, n_bootstrap=config.metrics.bootstrap,
        confidence=config.metrics.confidence, seed=config.seed, reference=plan, delta=config.metrics.delta,
        progress=prefixed(say, f"{prefix.split(']')[0]}] "),
    )
    audit_s = time.perf_counter() - audit_started
    sweep.folder.write_now(f"settings/{setting.name}/{WEIGHTS_FILE}", weights)
    kwargs = sweep.kwargs(setting)
    saved = strict_json_value({
        "format": SETTING_FORMAT,
        "name": setting.name,
        "fingerprint": fingerprint,
        "training_key": training_key,
        "description": setting.description,
        "setting": setting.config,
        "model": {"factory": config.model.factory, "factory_kwargs": kwargs, "outputs": config.model.outputs},
        "training": _training_dict(setting.training),
        "output_defence": setting.output_defence,
        "weights": {"file": WEIGHTS_FILE, "sha256": hashlib.sha256(weights).hexdigest()},
        "trained": {**info, "reused_from": reused_from},
        "attacks": specs,
        "attacks_skipped": skipped,
        "audit": report_dict(result),
        "durations": {"training_s": training_s, "audit_s": audit_s, "total_s": time.perf_counter() - started},
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "target": {  # a torch target entry for `privaudit audit`, paths relative to the sweep's output folder
            "name": setting.name, "type": "torch", "weights": f"settings/{setting.name}/{WEIGHTS_FILE}",
            "factory": config.model.factory, "factory_kwargs": kwargs, "outputs": config.model.outputs,
            "transform": ENCODER_FILE, "trusted_types": sweep.trusted_types,
            **({"output_defence": setting.output_defence} if setting.output_defence else {}),
        },
    })
    sweep.folder.write_now(f"settings/{setting.name}/{RESULT_FILE}", (json.dumps(saved, indent=1, allow_nan=False, ensure_ascii=False) + "\n").encode())
    return saved


#: what a sweep writes into its output folder (``settings/`` holds one folder per setting)
SWEEP_FILES = (ENCODER_FILE, "sweep.json", "sweep.html", "settings/")


def run_sweep(config, base_dir: str | Path = ".", *, out_dir: str | Path | None = None, progress: Callable[[str], None] | None = None,
              force: bool = False) -> SweepRun:
    """Run (or resume) the sweep a validated :class:`~privaudit.sweep.config.SweepConfig` describes.

    Parameters
    ----------
    config : SweepConfig
    base_dir : path
        The config's folder: data, store and output paths are relative to it.
    out_dir : path, optional
        Output folder (default: ``config.output`` relative to ``base_dir``).
    progress : callable, optional
        Called with one-line messages.
    force : bool
        Write into a folder privaudit did not create (see :class:`~privaudit.output_folder.OutputFolder`:
        the folder is checked and locked before any training; ``sweep.json`` and ``sweep.html`` are
        swapped in together at the end, with ``manifest.json`` last).

    Returns
    -------
    SweepRun
        ``document`` is ``sweep.json`` (see ``docs/report-schema.md``);
        ``files`` maps ``json``/``html`` to their paths; ``ran`` and
        ``resumed`` list setting names.
    """
    started, started_at = time.perf_counter(), datetime.now(timezone.utc).isoformat(timespec="seconds")
    say = progress or (lambda message: None)
    base_dir = Path(base_dir)
    out = Path(out_dir) if out_dir is not None else base_dir / config.output
    with OutputFolder(out, command="sweep", names=SWEEP_FILES, force=force, what="--out" if out_dir is not None else "output folder") as folder:
        sweep = _Sweep(config, base_dir, out, say)  # the folder is checked and locked first: a refusal comes before any work
        settings = resolve_settings(config)
        specs, _ = attack_specs(config, "probabilities")  # reference attacks without a reference block are refused before any training
        check_augmented(specs or [], sweep.data.records)
        for setting in settings:
            check_setting(setting, config, int(sweep.data.members.size), sweep.n_classes)
        sweep.folder = folder
        return _run_settings(sweep, settings, started, started_at)


def _run_settings(sweep: _Sweep, settings, started: float, started_at: str) -> SweepRun:
    """Run or resume each setting, then stage ``sweep.json`` and ``sweep.html`` (committed by the caller's folder)."""
    from privaudit.report.sweep import render_sweep_html
    from privaudit.sweep.summary import sweep_document

    config, say, out, folder = sweep.config, sweep.say, sweep.out, sweep.folder
    clean_temporary(out)
    sio = require("skops.io", "sklearn")
    encoder_bytes = sio.dumps(sweep.encoder)
    sweep.trusted_types = sorted(sio.get_untrusted_types(data=encoder_bytes))
    folder.write_now(ENCODER_FILE, encoder_bytes)

    saved, ran, resumed = [], [], []
    for index, setting in enumerate(settings, start=1):
        previous = read_result(out / "settings" / setting.name)
        training_key = sweep.training_key(setting)
        specs, skipped = attack_specs(config, sweep.output_kind(setting))
        fingerprint = sweep.fingerprint(setting, training_key, specs)
        if previous is not None and previous.get("fingerprint") == fingerprint:
            say(f"[{index}/{len(settings)}] {setting.name}: finished in an earlier run; skipped")
            saved.append(previous)
            resumed.append(setting.name)
            continue
        saved.append(_run_setting(sweep, setting, f"[{index}/{len(settings)}] {setting.name}", training_key, fingerprint, specs, skipped))
        ran.append(setting.name)

    from privaudit.config import config_hash
    from privaudit.pipeline import package_versions

    versions = package_versions()
    document = sweep_document(
        config.model_dump(mode="json"), config_hash(config), saved, resumed=set(resumed),
        data={"n_members": int(sweep.data.members.size), "n_nonmembers": int(sweep.data.nonmembers.size),
              "n_population": int(sweep.data.population.size), "n_validation": int(sweep.validation.size),
              "classes": list(sweep.data.records.classes), "source": sweep.data.source, "n_inputs": sweep.n_inputs},
        run={"seed": config.seed, "started_at": started_at, "duration_s": time.perf_counter() - started, "versions": versions,
             "output": str(out), "store": None if config.reference is None else str(sweep.store)},
    )
    files = {"json": folder.write_bytes("sweep.json", (json.dumps(document, indent=2, allow_nan=False, ensure_ascii=False) + "\n").encode()),
             "html": folder.write_text("sweep.html", render_sweep_html(document))}
    return SweepRun(document=document, files=files, ran=ran, resumed=resumed)


