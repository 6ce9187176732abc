"""Translation and captioning: outputs beside their references, attention heatmaps, and (translation)
gradient flow through the encoder and decoder."""

from __future__ import annotations

from typing import Any

import torch

from rnnkit.diagnostics.report.flow import flow_section
from rnnkit.diagnostics.report.html import Section, esc, figure, note, png_file, table
from rnnkit.diagnostics.report.run import RunInfo

SHOWN, HEATMAPS, FLOW_BATCH = 8, 2, 16


def translate_sections(info: RunInfo, notes: list[str]) -> list[Section]:
    """Test sentences: source, beam output and reference; attention heatmaps of the first few."""
    from rnnkit import config as cfgmod
    from rnnkit.models.decoding import DecodeConfig
    from rnnkit.tasks import translate

    model, codecs, conf, _ = translate.load_run(info.path)
    data = cfgmod.build(translate.TranslateDataConfig, conf["data"], "data config", internal=True)
    decode_cfg = cfgmod.build(DecodeConfig, conf.get("decode", {}), "decoding options", internal=True)
    src, ref = translate.read_splits(data)["test"]
    src, ref = src[:SHOWN], ref[:SHOWN]
    with torch.no_grad():
        hyps = translate.translate_ids(model, translate.encode_sources(codecs[0], src), decode_cfg, SHOWN)
    rows = [(s, codecs[1].decode(h.tokens), r) for s, h, r in zip(src, hyps, ref)]
    out = [Section("outputs", "Outputs beside references",
                   f"<p>The first {len(rows)} test sentences, translated by beam search (beam "
                   f"{decode_cfg.beam_size}).</p>" + table(["source", "output", "reference"], rows))]
    maps = []
    for s in src[:HEATMAPS]:
        with torch.no_grad():
            got = figure(lambda p, s=s: translate.heatmap(model, codecs, s, decode_cfg, p) or _none(), "attention")
        maps.append(got)
    out.append(Section("attention", "Attention heatmaps", "<p>Rows: output tokens; columns: source tokens; dark: "
                       "where the decoder looked.</p>" + "".join(maps)))
    s_ids = translate.encode_sources(codecs[0], src[:FLOW_BATCH])
    t_ids = translate.encode_targets(codecs[1], ref[:FLOW_BATCH])
    batch = translate.collate(s_ids, t_ids)
    out.append(flow_section(model, lambda: translate.token_loss(model, batch, torch.device("cpu"))[0],
                            f"the teacher-forced loss of {len(s_ids)} test pairs (encoder and decoder layers)"))
    return out


def _none() -> None:
    raise ValueError("the model has no attention: no heatmap")


def caption_sections(info: RunInfo, notes: list[str]) -> list[Section]:
    """The validation samples training wrote (image, caption, reference) and the attention of the first."""
    from rnnkit import config as cfgmod
    from rnnkit.data import captions
    from rnnkit.diagnostics.attention import plot_attention
    from rnnkit.models.decoding import DecodeConfig, decode
    from rnnkit.tasks import caption

    listing = info.path / caption.SAMPLES
    if not listing.is_file():
        notes.append(f"{caption.SAMPLES} is missing (written after training's test): no sample captions")
        return []
    lines = listing.read_text(encoding="utf-8").splitlines()[1:]
    rows, first = [], None
    for line in lines[:SHOWN]:
        name, predicted, reference = (line.split("\t") + ["", ""])[:3]
        img = png_file(info.path / name, name)
        first = first or (info.path / name if img else None)
        rows.append((img.replace("<img ", '<img style="width:160px;image-rendering:pixelated" ') if img else
                     esc(name), esc(predicted), esc(reference), "yes" if predicted == reference else "no"))
    out = [Section("outputs", "Captions beside references", "<p>Validation images captioned by the model.</p>"
                   + table(["image", "caption", "reference", "exact"], rows, raw=True))]
    if first is not None:
        model, conf, _ = caption.load_run(info.path)
        decode_cfg = cfgmod.build(DecodeConfig, conf.get("decode", {}), "decoding options", internal=True)
        x = captions.read_image(first).unsqueeze(0)
        with torch.no_grad():
            hyp = decode(model, (x,), caption.BOS, caption.EOS, torch.full((1,), 5), decode_cfg)[0]
        if hyp.attention is None:
            notes.append("the captioner has no attention: no heatmap")
        else:
            cols = [f"{k}" for k in range(hyp.attention.shape[1])]
            outs = caption.words(hyp.tokens).split() + (["<eos>"] if hyp.ended else [])
            w = hyp.attention[: len(outs)]
            img = figure(lambda p: plot_attention(w, cols, outs[: w.shape[0]], p, title="attention over the image's "
                                                  "feature columns"), "caption attention")
            out.append(Section("attention", "Attention heatmap", f"<p>{esc(first.name)}: which feature-map position "
                               f"(left to right across the image) each word looked at.</p>" + img))
        data = cfgmod.build(caption.CaptionDataConfig, conf["data"], "data config", internal=True)
        x, seqs = caption.CaptionTask(data).valid
        x, y = x[:FLOW_BATCH], caption.targets(seqs[:FLOW_BATCH])
        out.append(flow_section(model, lambda: caption.caption_loss(model, x, y)[0],
                                f"the teacher-forced loss of {len(x)} validation captions (the decoder's layers)"))
    return out


def seq2seq_sections(info: RunInfo, notes: list[str]) -> list[Any]:
    """The views of a ``translate`` or ``caption`` run."""
    if info.task == "translate":
        return translate_sections(info, notes)
    if info.task == "caption":
        return caption_sections(info, notes)
    return [Section("outputs", "Outputs", note(f"no views for task {info.task!r}"))]
