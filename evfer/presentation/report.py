"""``evfer report RUN_DIR``: one self-contained HTML page (``report.html``) about a training run or a
cross-validation folder — images embedded, no scripts, no network; it opens from disk.

The page: the headline numbers; the resolved config; the data (clips per source, label and split,
skipped items, the label table, from the prepared dataset's ``summary.json`` and the run's manifest);
the training curves; the test metrics (accuracy with its 95 % Wilson interval, macro-F1, per class,
the confusion matrix) or, for cross-validation, the per-fold and pooled metrics; the misclassified
test clips with a picture of their events, true and predicted label and confidence; timings and the
machine (CPU, torch's CPU capability, precision, device). Parts a run does not have yet (not
evaluated, no dataset summary) are named on the page instead. ``evfer demo``, ``evaluate`` and
``cv`` write it at their end.
"""

from __future__ import annotations

import io
import logging
import os
import time
from pathlib import Path

from ..atomic import atomic_path
from ..errors import EvferError, InputError
from ..io import read_events
from ..metrics import accuracy_summary, format_accuracy
from .drawing import drawn_size, event_frame
from .html import cards, esc, missing, page, png_img, table
from .run_files import RunFiles

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
#: misclassified clips shown with a picture of their events (the most confident mistakes first)
MAX_THUMBNAILS = 48
#: skipped dataset items listed one by one
MAX_SKIPPED = 50


def write_report(folder: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write the report of the run or cross-validation folder ``folder`` to ``out`` (default
    ``folder/report.html``), atomically; returns its path. InputError when ``folder`` is neither."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "run directory not found")
    run = RunFiles(folder)
    if run.repeats:
        text = repeated_cv_page(run)
    elif run.is_cv:
        text = cv_page(run)
    elif run.is_run:
        text = run_page(run)
    else:
        raise InputError(folder, "neither a training run nor a cross-validation folder "
                                 "(no config.yaml, manifest.csv, checkpoints/, cv.json or fold-*/)")
    out = Path(out) if out is not None else folder / REPORT_NAME
    with atomic_path(out, make_folder=False) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return out


def try_write_report(folder: str | os.PathLike) -> str | None:
    """:func:`write_report` at the end of a command whose results are already written: the page's
    path, or None when it failed — logged in one line, the command's results stand."""
    try:
        return str(write_report(folder))
    except Exception as exc:  # noqa: BLE001 - the report must never undo an evaluation
        log.warning("report not written: %s", exc)
        return None


# ---------------------------------------------------------------------------------------- pages
def run_page(run: RunFiles) -> str:
    """The report of one training run."""
    metrics, summary, demo = run.json("metrics.json"), run.json("train_summary.json"), run.json("demo_report.json")
    metrics = with_interval(metrics) if metrics else None
    items = []
    if metrics:
        items += metric_cards(metrics, "test")
    if summary and summary.get("best_val_acc") is not None:
        items.append((f"{summary['best_val_acc']:.3f}", f"validation accuracy of the checkpoint "
                                                         f"({summary.get('epochs', '?')} epochs)"))
    seconds = (demo or {}).get("seconds_total") or (summary or {}).get("train_seconds", (summary or {}).get("train_seconds_this_session"))
    if seconds is not None:
        items.append((f"{seconds / 60:.1f} min", "demo in total" if demo else "training"))
    headline = cards(items) if items else ""
    if not metrics:
        headline += missing(run.problem("metrics.json", f"run `evfer evaluate {run.folder}`"))
    return page(f"evfer run: {run.folder.name}", _subtitle(run, "training run"), [
        ("summary", "Summary", headline),
        ("config", "Config", config_section(run)),
        ("data", "Data", data_section(run, splits_table(run))),
        ("training", "Training curves", curves_section(trained_runs("", run))),
        ("metrics", "Test metrics", test_metrics_section(run, metrics)),
        ("mistakes", "Misclassified test clips", mistakes_section([("", run)])),
        ("timings", "Timings and machine", timings_section([("", run)], demo)),
    ])


def cv_page(cv: RunFiles) -> str:
    """The report of a cross-validation folder (cv.json and its fold-<k>/ runs)."""
    result = cv.json("cv.json")
    if result:
        result["pooled"] = with_interval(result["pooled"])
    folds = [(f"fold {f.folder.name[5:]}", f) for f in cv.folds]
    first = folds[0][1] if folds else cv
    if result:
        pooled = result["pooled"]
        headline = cards([
            (f"{result['accuracy_mean']:.3f} ± {result['accuracy_std']:.3f}",
             f"accuracy, mean ± std over {result['folds']} folds"),
            (f"{pooled['accuracy']:.3f}", "accuracy of all test clips pooled (95% CI "
                                          f"{pooled['accuracy_ci95'][0]:.3f}-{pooled['accuracy_ci95'][1]:.3f}, "
                                          f"{pooled['n']} clips)"),
            (f"{result['macro_f1_mean']:.3f} ± {result['macro_f1_std']:.3f}", "macro-F1, mean ± std over folds"),
        ])
    else:
        headline = missing(f"cross-validation not finished: no cv.json; {len(folds)} fold folder(s), "
                           f"{sum(1 for _, f in folds if f.json('metrics.json'))} evaluated")
    note = "<p>The folds' configs differ only in <code>data.split.fold</code>; this is fold 0's.</p>"
    fold_splits = table(["fold", "train clips", "val clips", "test clips", "test subjects"],
                        [[name, *_split_counts(f)] for name, f in folds])
    return page(f"evfer cross-validation: {cv.folder.name}", _subtitle(cv, "subject k-fold cross-validation"), [
        ("summary", "Summary", headline),
        ("config", "Config", note + config_section(first)),
        ("data", "Data", data_section(first, "<h3>Clips per fold</h3>" + fold_splits)),
        ("training", "Training curves", curves_section([r for name, f in folds for r in trained_runs(name, f)])),
        ("metrics", "Cross-validation metrics", cv_metrics_section(cv, result, folds)),
        ("mistakes", "Misclassified test clips", mistakes_section(folds)),
        ("timings", "Timings and machine", timings_section(folds, None)),
    ])


def repeated_cv_page(cv: RunFiles) -> str:
    """The report of a repeated cross-validation (cv.json and its repeat-<r>/ cross-validations):
    the spread of the pooled accuracy over the seeds, each repeat, the averaged probabilities; each
    repeat's own page holds its folds."""
    result = cv.json("cv.json")
    repeats = [(f"repeat {r.folder.name[7:]}", r) for r in cv.repeats]
    if result:
        items = [(spread_text(result["spread"]["accuracy"]), f"pooled accuracy over all test clips, mean ± sample "
                  f"std (min-max) over {result['repeats']} repeats (seeds {', '.join(map(str, result['seeds']))})")]
        if "expressions_only" in result["spread"]:
            items.append((spread_text(result["spread"]["expressions_only"]),
                          "expression clips only (onset-neutral clips left out), mean ± sample std (min-max)"))
        avg = with_interval(result["averaged"])
        items.append((f"{avg['accuracy']:.3f}", f"the repeats' averaged probabilities (95% CI "
                      f"{avg['accuracy_ci95'][0]:.3f}-{avg['accuracy_ci95'][1]:.3f}, {avg['n']} clips)"))
        headline = cards(items)
        body = repeats_section(result)
    else:
        headline = missing(f"repeated cross-validation not finished: no cv.json; {len(repeats)} repeat folder(s)")
        body = ""
    first = repeats[0][1].folds[0] if repeats and repeats[0][1].folds else cv
    note = ("<p>The repeats differ only in <code>seed</code> (initialisation, augmentation); the folds "
            "follow <code>data.split.seed</code> and are the same in every repeat. This is repeat 0, fold 0's "
            "config.</p>")
    return page(f"evfer repeated cross-validation: {cv.folder.name}",
                _subtitle(cv, "subject k-fold cross-validation repeated over seeds"), [
        ("summary", "Summary", headline),
        ("repeats", "Spread over the repeats", body),
        ("config", "Config", note + config_section(first)),
        ("timings", "Timings and machine", timings_section(
            [(f"{name}, fold {f.folder.name[5:]}", f) for name, r in repeats for f in r.folds], None)),
    ])


def spread_text(s: dict) -> str:
    return f"{s['mean']:.3f} ± {s['std']:.3f} ({s['min']:.3f}-{s['max']:.3f})"


def repeats_section(result: dict) -> str:
    expr = "expressions_only" in result["spread"]
    rows = []
    for p in result["per_repeat"]:
        link = f'<a href="{esc(p["folder"])}/report.html">{esc(p["folder"])}</a>'
        cells = [p["repeat"], p["seed"], f"{p['accuracy']:.3f}",
                 f"{p['accuracy_ci95'][0]:.3f}-{p['accuracy_ci95'][1]:.3f}", p["n"]]
        if expr:
            e = p["expressions_only"]
            cells += [f"{e['accuracy']:.3f}", e["n"]]
        rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + f"<td>{link}</td></tr>")
    head = ["repeat", "seed", "pooled accuracy", "95% CI", "clips", *(["expression clips", "n"] if expr else []),
            "report"]
    out = ["<p>Each repeat is a whole cross-validation with another seed: the spread is what one run of the "
           "recipe can be expected to vary by.</p>",
           "<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"
           + "".join(rows) + "</tbody></table>"]
    stats = [["all test clips", *_spread_cells(result["spread"]["accuracy"])]]
    if expr:
        stats.append(["expression clips", *_spread_cells(result["spread"]["expressions_only"])])
    out.append("<h3>Spread of the pooled accuracy</h3>" + table(["clips", "mean", "sample std", "min", "max"], stats))
    avg = with_interval(result["averaged"])
    out.append(f"<h3>Averaged probabilities</h3><p>The clip probabilities of the {result['repeats']} repeats "
               f"averaged (their models used together): accuracy <b>{esc(format_accuracy(avg))}</b>"
               + (f", expression clips <b>{esc(format_accuracy(avg['expressions_only']))}</b>"
                  if "expressions_only" in avg else "") + ".</p>")
    out += [per_class_table(avg, "Per class, averaged probabilities"),
            confusion_html(avg["confusion_matrix"], result["classes"])]
    return "".join(out)


def _spread_cells(s: dict) -> list[str]:
    return [f"{s['mean']:.3f}", f"{s['std']:.3f}", f"{s['min']:.3f}", f"{s['max']:.3f}"]


def trained_runs(name: str, run: RunFiles) -> list[tuple[str, RunFiles]]:
    """The runs that hold training logs: an ensemble run's members, else the run itself."""
    if not run.members:
        return [(name, run)]
    return [(f"{name + ', ' if name else ''}member {m.folder.name[1:]}", m) for m in run.members]


def members_table(members: list[dict], title: str) -> str:
    """Each ensemble member's accuracy (and expression-clip accuracy) beside the ensemble's."""
    expr = all("expressions_only" in m for m in members)
    rows = [[m["member"], *([m["seed"]] if "seed" in m else []), format_accuracy(with_interval(m)),
             *([format_accuracy(m["expressions_only"])] if expr else [])] for m in members]
    head = ["member", *(["seed"] if all("seed" in m for m in members) else []), "accuracy (95% CI)",
            *(["expression clips (95% CI)"] if expr else [])]
    return f"<h3>{esc(title)}</h3>" + table(head, rows)


def _subtitle(run: RunFiles, what: str) -> str:
    return f"{what} in {run.folder.resolve()}; report written {time.strftime('%Y-%m-%d %H:%M')}"


def with_interval(m: dict) -> dict:
    """Metrics with ``accuracy_ci95`` (Wilson, 95 %): computed for runs evaluated before evfer
    recorded it."""
    if "accuracy_ci95" in m:
        return m
    return {**m, "accuracy_ci95": accuracy_summary(round(m["accuracy"] * m["n"]), m["n"])["accuracy_ci95"]}


def metric_cards(m: dict, split: str) -> list[tuple[str, str]]:
    lo, hi = m["accuracy_ci95"]
    items = [(f"{m['accuracy']:.3f}", f"{split} accuracy (95% CI {lo:.3f}-{hi:.3f}, {m['n']} clips)"),
             (f"{m['macro_f1']:.3f}", f"{split} macro-F1")]
    if "expressions_only" in m:
        e = m["expressions_only"]
        items.append((f"{e['accuracy']:.3f}", f"expression clips only (95% CI {e['accuracy_ci95'][0]:.3f}-"
                                              f"{e['accuracy_ci95'][1]:.3f}, {e['n']} clips)"))
    return items


# ------------------------------------------------------------------------------------- sections
def config_section(run: RunFiles) -> str:
    text = run.text("config.yaml")
    return f"<pre>{esc(text)}</pre>" if text else missing(f"no config.yaml in {run.folder}")


def data_section(run: RunFiles, splits_html: str) -> str:
    s = run.dataset_summary
    if s is None:
        return missing(f"dataset summary not found ({run.data_out or 'data.out unknown'}/summary.json, written "
                       "by `evfer prepare`)") + splits_html
    classes = s.get("classes", [])
    out = [f"<p>{s.get('clips', '?')} clips from {s.get('subjects', '?')} subjects, prepared in "
           f"<code>{esc(run.data_out)}</code>.</p>", "<h3>Clips per source and label</h3>",
           _count_table("source", s.get("per_source", {}), classes), splits_html]
    if s.get("balance"):
        before = ", ".join(f"{c} {s.get('train_counts_before', {}).get(c, 0)}" for c in classes)
        after = ", ".join(f"{c} {s.get('train_draws_after', {}).get(c, 0)}" for c in classes)
        out.append(f"<p>Balancing ({esc(s['balance'])}, training split only): clips {esc(before)} "
                   f"&rarr; draws per epoch {esc(after)}.</p>")
    skipped = s.get("skipped", [])
    out.append(f"<h3>Skipped items: {len(skipped)}</h3>")
    if skipped:
        out.append(table(["reason", "items"], list(s.get("skipped_by_reason", {}).items())))
        out.append(table(["item", "source", "reason"], [[k["item"], k.get("source", ""), k["reason"]]
                                                         for k in skipped[:MAX_SKIPPED]]))
        if len(skipped) > MAX_SKIPPED:
            out.append(f"<p>... and {len(skipped) - MAX_SKIPPED} more in summary.json.</p>")
    out.append("<h3>Label table</h3>")
    out.append(table(["dataset label", "class"], [[k, "(dropped)" if v is None else v]
                                                   for k, v in s.get("label_table", {}).items()]))
    return "".join(out)


def _count_table(by: str, counts: dict[str, dict[str, int]], classes: list[str]) -> str:
    rows = [[g or "-", *(c.get(k, 0) for k in classes), sum(c.values())] for g, c in counts.items()]
    return table([by, *classes, "total"], rows)


def splits_table(run: RunFiles) -> str:
    """Clips per split and label, from the run's manifest (the split the run actually used)."""
    records = run.manifest
    if records is None:
        return missing(f"no manifest.csv in {run.folder}")
    classes = (run.json("train_summary.json") or {}).get("classes") or sorted({r.label for r in records})
    counts: dict[str, dict[str, int]] = {}
    for split in ("train", "val", "test"):
        counts[split] = {c: sum(1 for r in records if r.split == split and r.label == c) for c in classes}
    subjects = {s: len({r.subject for r in records if r.split == s}) for s in counts}
    rows = [[s, *(counts[s][c] for c in classes), sum(counts[s].values()), subjects[s]] for s in counts]
    return "<h3>Clips per split (subject-disjoint)</h3>" + table(["split", *classes, "total", "subjects"], rows)


def _split_counts(run: RunFiles) -> list:
    records = run.manifest or []
    n = {s: sum(1 for r in records if r.split == s) for s in ("train", "val", "test")}
    return [n["train"], n["val"], n["test"], len({r.subject for r in records if r.split == "test"})]


def curves_section(runs: list[tuple[str, RunFiles]]) -> str:
    out = []
    for name, run in runs:
        if name:
            out.append(f"<h3>{esc(name)}</h3>")
        series = run.curves or {}
        val = series.get("val_acc")
        if not val:
            out.append(missing(f"no training log yet ({run.folder / 'logs' / 'metrics.csv'})"))
            continue
        best_epoch, best = max(val, key=lambda ev: ev[1])
        last = {k: v[-1][1] for k, v in series.items() if v}
        out.append(f"<p>{len(val)} validation epochs; best validation accuracy {best:.3f} at epoch {best_epoch}; "
                   "last epoch: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(last.items())) + ".</p>")
        png = run.curves_png()
        out.append(png_img(png, f"training curves {name}".strip()) if png else missing("no curves.png"))
    return "".join(out) or missing("no training runs")


def test_metrics_section(run: RunFiles, m: dict | None) -> str:
    if not m:
        return missing(run.problem("metrics.json", f"run `evfer evaluate {run.folder}`"))
    out = [f"<p>Accuracy <b>{esc(format_accuracy(m))}</b>, macro-F1 <b>{m['macro_f1']:.3f}</b>, "
           f"{m.get('subjects', '?')} test subjects; flip test-time averaging {'on' if m.get('tta_flip') else 'off'}; "
           f"checkpoint <code>{esc(m.get('checkpoint', '?'))}</code>.</p>"]
    if "expressions_only" in m:
        out.append(f"<p>Expression clips only (onset-neutral clips left out): accuracy "
                   f"<b>{esc(format_accuracy(m['expressions_only']))}</b>.</p>")
    if m.get("members"):
        out.append(members_table(m["members"], f"The {len(m['members'])} ensemble members alone (the ensemble "
                                               "averages their probabilities)"))
    out += [per_class_table(m), confusion_html(m["confusion_matrix"], m["classes"])]
    others = [(s, run.json(f"metrics-{s}.json")) for s in ("val", "train")]
    others = [(s, o) for s, o in others if o]
    if others:
        out.append("<h3>Other splits</h3>" + table(["split", "accuracy (95% CI)", "macro-F1"],
                                                   [[s, format_accuracy(o), f"{o['macro_f1']:.3f}"] for s, o in others]))
    return "".join(out)


def per_class_table(m: dict, title: str = "Per class") -> str:
    rows = [[c, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", v["support"]]
            for c, v in m["per_class"].items()]
    return f"<h3>{esc(title)}</h3>" + table(["class", "precision", "recall", "F1", "clips"], rows)


def confusion_html(cm: list[list[int]], classes: list[str]) -> str:
    """The confusion matrix as a table (rows true, columns predicted), cells shaded by their share
    of the row (on the diagonal: the recall of the true class)."""
    head = "".join(f"<th>{esc(c)}</th>" for c in ["true \\ predicted", *classes])
    rows = []
    for i, (c, row) in enumerate(zip(classes, cm)):
        total = max(sum(row), 1)
        cells = "".join(f'<td style="background: rgba(31, 119, 180, {0.8 * v / total:.2f})"'
                        f'{" class=diag" if j == i else ""}>{v}</td>' for j, v in enumerate(row))
        rows.append(f"<tr><th>{esc(c)}</th>{cells}</tr>")
    return ("<h3>Confusion matrix (rows: true class, columns: predicted; shade: share of the row)</h3>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def cv_metrics_section(cv: RunFiles, result: dict | None, folds: list[tuple[str, RunFiles]]) -> str:
    out = []
    if result:
        pooled = result["pooled"]
        out.append(f"<p>Accuracy <b>{result['accuracy_mean']:.3f} ± {result['accuracy_std']:.3f}</b> and macro-F1 "
                   f"<b>{result['macro_f1_mean']:.3f} ± {result['macro_f1_std']:.3f}</b> (mean ± population std over "
                   f"{result['folds']} folds). All test clips pooled (each clip is tested once): accuracy "
                   f"<b>{esc(format_accuracy(pooled))}</b>.</p>")
        if "expressions_only" in pooled:
            out.append(f"<p>Expression clips only (onset-neutral clips left out), pooled: accuracy "
                       f"<b>{esc(format_accuracy(pooled['expressions_only']))}</b>.</p>")
        per_fold = result["per_fold"]
        if pooled.get("members"):
            out.append(members_table(pooled["members"], "The ensemble members alone, all folds pooled (the "
                                                        "ensemble averages their probabilities)"))
    else:
        out.append(missing("no cv.json yet: the folds evaluated so far"))
        per_fold = [{"fold": name, **m} for name, f in folds if (m := f.json("metrics.json"))]
    rows = [[f["fold"], f"{f['accuracy']:.3f}",
             "-" if not f.get("accuracy_ci95") else f"{f['accuracy_ci95'][0]:.3f}-{f['accuracy_ci95'][1]:.3f}",
             f"{f['macro_f1']:.3f}", f["n"], f.get("subjects") or "-"] for f in per_fold]
    out.append("<h3>Per fold</h3>" + table(["fold", "accuracy", "95% CI", "macro-F1", "clips", "subjects"], rows))
    if result:
        out += [per_class_table(result["pooled"], "Per class, all folds pooled"),
                confusion_html(result["pooled"]["confusion_matrix"], result["classes"])]
    return "".join(out)


def mistakes_section(runs: list[tuple[str, RunFiles]]) -> str:
    """The misclassified test clips of ``runs`` (most confident first), with pictures of their events."""
    mistakes, clips, unevaluated = [], 0, []
    for name, run in runs:
        rows = run.predictions("test")
        if rows is None:
            unevaluated.append(name or str(run.folder))
            continue
        clips += len(rows)
        events = {r.id: r.events_path for r in run.manifest or []}
        for row in rows:
            if row["label"] != row["predicted"]:
                mistakes.append((row[f"p_{row['predicted']}"], name, row, run.data_out, events.get(row["id"])))
    out = [missing("no per-clip predictions yet (predictions-test.csv; run `evfer evaluate`): "
                   + ", ".join(unevaluated))] if unevaluated else []
    out += [missing(f"{name or run.folder}: predictions-test.csv is {run.unreadable['predictions-test.csv']}; "
                    "the readable rows are shown") for name, run in runs if "predictions-test.csv" in run.unreadable]
    if not clips:
        return "".join(out)
    mistakes.sort(key=lambda m: -m[0])
    out.append(f"<p>{len(mistakes)} of {clips} test clips misclassified"
               + (f"; the {MAX_THUMBNAILS} most confident mistakes are shown" if len(mistakes) > MAX_THUMBNAILS
                  else "") + ". Pictures: all events of the clip, ON red, OFF blue.</p>")
    thumbs = [_mistake_card(*m) for m in mistakes[:MAX_THUMBNAILS]]
    out.append(f'<div class="thumbs">{"".join(thumbs)}</div>')
    return "".join(out)


def _mistake_card(confidence: float, fold: str, row: dict, data_out: Path | None, events_path: str | None) -> str:
    png = event_thumbnail(data_out / events_path) if data_out and events_path else None
    picture = png_img(png, f"events of {row['id']}") if png else missing("events file not found")
    where = f"{esc(fold)}, " if fold else ""
    return (f'<div class="thumb">{picture}<b>{esc(row["id"])}</b><br>{where}true <b>{esc(row["label"])}</b>, '
            f'predicted <b>{esc(row["predicted"])}</b> ({confidence:.2f}); '
            f'p({esc(row["label"])}) {row.get("p_" + row["label"], 0.0):.2f}</div>')


def event_thumbnail(path: Path) -> bytes | None:
    """PNG of all the events of a prepared clip (evfer's ON/OFF event frame); None when unreadable."""
    from matplotlib.image import imsave


    try:
        events = read_events(path)
    except (EvferError, OSError):
        return None
    if not len(events):
        return None
    buf = io.BytesIO()
    imsave(buf, event_frame(events, size=drawn_size(events.width, events.height)), format="png")
    return buf.getvalue()


def timings_section(runs: list[tuple[str, RunFiles]], demo: dict | None) -> str:
    out, machine = [], None
    rows = []
    for name, run in runs:
        s = run.json("train_summary.json")
        if s is None:
            rows.append([name or "run", "-", "-", "-", "not trained (no train_summary.json)"])
            continue
        machine = machine or s.get("machine")
        rows.append([name or "run", s.get("epochs", "-"), "yes" if s.get("stopped_early") else "no",
                     s.get("train_seconds", s.get("train_seconds_this_session", "-")),
                     f"{s.get('precision', '?')} ({s.get('precision_reason', 'reason not recorded')})"])
    seconds = [r[3] for r in rows if isinstance(r[3], (int, float))]
    if len(runs) > 1 and seconds:
        rows.append(["all folds", "", "", round(sum(seconds), 1), ""])
    out.append(table(["run", "epochs", "stopped early", "training seconds (all sessions)", "precision"], rows))
    if demo:
        out.append(f"<p>Demo: {demo.get('seconds_prepare_and_train', '?')} s to prepare and train, "
                   f"{demo.get('seconds_total', '?')} s in total; target accuracy {demo.get('target_accuracy', '?')} "
                   f"{'met' if demo.get('target_met') else 'not met'}.</p>")
    out.append("<h3>Machine</h3>")
    if machine:
        names = {"cpu": "CPU", "cpu_cores": "CPU cores used", "torch_threads": "torch threads",
                 "cpu_capability": "torch CPU capability", "cpu_bf16_instructions": "AVX512-BF16 / AMX",
                 "device": "device", "torch": "torch", "python": "Python", "evfer": "evfer"}
        out.append(table(["", "trained on"], [[names.get(k, k), v] for k, v in machine.items()]))
    else:
        out.append(missing("machine not recorded (a run trained by an earlier evfer)"))
    return "".join(out)
