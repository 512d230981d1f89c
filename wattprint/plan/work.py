"""The work of a training in FLOPs: from parameters and tokens, a FLOP count, or a local
Hugging Face ``config.json``.

Dense transformer training costs about 6 FLOPs per parameter per token (2 forward, 4 backward:
Kaplan et al. 2020, section 2.1). With the model's shape and sequence length, attention adds
12 x layers x d_model x seq_len FLOPs per token (Chowdhery et al. 2022, Appendix B, the count
behind PaLM's MFU), which matters for long sequences and small models.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from ..errors import UsageError
from ..fmt import either, opt
from ..units import shown

RULE = {"factor": "flops_rule", "value": 6, "unit": "FLOP per parameter per token",
        "source": "Kaplan et al. 2020, Scaling Laws for Neural Language Models, section 2.1",
        "url": "https://arxiv.org/abs/2001.08361", "year": 2020, "name": "6ND", "note": "dense transformer training"}
ATTENTION = {"factor": "flops_attention", "value": 12, "unit": "FLOP x layers x d_model x seq_len per token",
             "source": "Chowdhery et al. 2022, PaLM, Appendix B", "url": "https://arxiv.org/abs/2204.02311",
             "year": 2022, "name": "12 L H Q T", "note": "self-attention, as PaLM's MFU counts it"}
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}
LIMITS = {"params": 1e15, "tokens": 1e17, "flops": 1e32, "samples": 1e15, "seq_len": 1e8, "epochs": 1e6,
           "layers": 1e5, "hidden": 1e7, "host_w": 1e5, "deadline_days": 36500, "count": 1e7, "trials": 1e6,
           "total_work": 1e18}


@dataclass
class Work:
    flops: float
    params: float | None = None
    tokens: float | None = None
    layers: int | None = None
    hidden: int | None = None
    seq_len: float | None = None
    basis: str = ""
    sources: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def number(text, what: str, allow_zero: bool = False) -> float:
    """A positive count: ``7e9``, ``7B``, ``2T``, ``1,000``, ``350M`` (k, M, B/G, T, P)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        x = float(text)
    else:
        t = str(text).strip().replace(",", "").replace("_", "")
        if re.fullmatch(r"-\s*[0-9.]+(?:e[+-]?\d+)?\s*[kmbgtp]?", t, re.I):
            raise UsageError(f"{opt(what)}: must be a positive number, got {shown(text)}")
        m = re.fullmatch(r"([0-9.]+(?:e[+-]?\d+)?)\s*([kmbgtp]?)", t, re.I)
        if not m:
            raise UsageError(f"{opt(what)} {shown(text)}: expected a number such as 7e9 or 7B")
        try:
            x = float(m.group(1)) * _SUFFIX.get(m.group(2).lower(), 1.0)
        except ValueError:
            raise UsageError(f"{opt(what)} {shown(text)}: expected a number such as 7e9 or 7B") from None
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise UsageError(f"{opt(what)}: must be a positive number, got {shown(text)}")
    if x > LIMITS[what]:
        raise UsageError(f"{opt(what)}: {shown(text)} is more than wattprint accepts ({LIMITS[what]:,.0f} at "
                         "most); check the value")
    return x


def _big(x: float) -> str:
    from .text import big

    return big(x)


def work(*, params=None, tokens=None, flops=None, config=None, samples=None, seq_len=None, epochs=None,
         layers=None, hidden=None) -> Work:
    """The training's FLOPs and how they were counted (``sources`` names the rule)."""
    given = [k for k, v in (("flops", flops), ("params", params), ("config", config)) if v not in (None, "")]
    if len(given) > 1:
        raise UsageError(f"give the work one way: {opt('flops')}, {opt('params')} with {opt('tokens')}, "
                         f"or {opt('config')}, not {' and '.join(opt(g) for g in given)}")
    if not given:
        run = either(python="from_run=plan.from_run.scaled(record, rows, W)", cli="--from-run RUN --total-work W")
        raise UsageError(f"say how much work the training is: {opt('params')} N with {opt('tokens')} D, "
                         f"{opt('flops')} F, {opt('config')} config.json, or {run}")
    seq = number(seq_len, "seq_len") if seq_len not in (None, "") else None
    if flops not in (None, ""):
        extra = [k for k, v in (("tokens", tokens), ("samples", samples), ("epochs", epochs)) if v not in (None, "")]
        if extra:
            raise UsageError(f"{opt('flops')} is the whole work: drop {', '.join(opt(e) for e in extra)}")
        f = number(flops, "flops")
        return Work(flops=f, basis="FLOPs given", sources=[{**RULE, "factor": "flops", "value": f, "unit": "FLOP",
                                                              "source": "given by the user", "url": "",
                                                              "year": None, "name": "", "note": ""}])
    shape: dict = {}
    if config not in (None, ""):
        shape = read_config(config)
        n = shape["params"]
    else:
        n = number(params, "params")
    if layers not in (None, ""):
        shape["layers"] = int(number(layers, "layers"))
    if hidden not in (None, ""):
        shape["hidden"] = int(number(hidden, "hidden"))
    d = _tokens(tokens, samples, seq, epochs)
    f = 6.0 * n * d
    basis = f"6 x {_big(n)} parameters x {_big(d)} tokens"
    sources = [RULE]
    notes = []
    if shape.get("note"):
        notes.append(shape["note"])
    L, H = shape.get("layers"), shape.get("hidden")
    if seq and L and H:
        f += 12.0 * L * H * seq * d
        basis += f" + 12 x {L} layers x {H} d_model x {_big(seq)} seq_len x tokens (attention)"
        sources.append(ATTENTION)
    elif seq and not (L and H):
        notes.append(f"attention FLOPs left out: give {opt('layers')} and {opt('hidden')} (or {opt('config')}) "
                     f"with {opt('seq_len')} to count them")
    return Work(flops=f, params=n, tokens=d, layers=L, hidden=H, seq_len=seq, basis=basis, sources=sources,
                notes=notes)


def _tokens(tokens, samples, seq, epochs) -> float:
    if tokens not in (None, ""):
        if samples not in (None, ""):
            raise UsageError(f"give {opt('tokens')} or {opt('samples')} x {opt('seq_len')}, not both")
        return number(tokens, "tokens") * (number(epochs, "epochs") if epochs not in (None, "") else 1.0)
    if samples not in (None, ""):
        if not seq:
            raise UsageError(f"{opt('samples')} needs {opt('seq_len')} (tokens per sample)")
        return number(samples, "samples") * seq * (number(epochs, "epochs") if epochs not in (None, "") else 1.0)
    raise UsageError(f"say how many tokens: {opt('tokens')} D, or {opt('samples')} N {opt('seq_len')} L "
                     f"[{opt('epochs')} E]")


# ------------------------------------------------------------------ Hugging Face config.json

def read_config(path) -> dict:
    """Parameters and shape of a local Hugging Face ``config.json`` (read, never downloaded)."""
    p = str(path)
    try:
        with open(p, encoding="utf-8") as fh:
            cfg = json.load(fh)
    except FileNotFoundError:
        raise UsageError(f"{opt('config')} {shown(p)}: no such file; give the path of a local config.json") from None
    except IsADirectoryError:
        raise UsageError(f"{opt('config')} {shown(p)}: a directory; give the config.json inside it") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{opt('config')} {shown(p)}: not JSON ({e}); give a Hugging Face config.json") from None
    if not isinstance(cfg, dict):
        raise UsageError(f"{opt('config')} {shown(p)}: not a config object; give a Hugging Face config.json")
    kind = str(cfg.get("model_type", "")).lower()
    try:
        if kind == "gpt2" or "n_embd" in cfg:
            return _gpt2(cfg)
        if kind in ("bert", "roberta"):
            return _bert(cfg)
        if kind == "t5" or "d_kv" in cfg:
            return _t5(cfg)
        if "hidden_size" in cfg and "intermediate_size" in cfg:
            return _llama(cfg)
    except KeyError as e:
        raise UsageError(f"{opt('config')} {shown(p)}: no {e.args[0]!r} in it; pass {opt('params')} N instead") from None
    except (TypeError, ValueError):
        raise UsageError(f"{opt('config')} {shown(p)}: a shape value is not a number; pass {opt('params')} N "
                         "instead") from None
    raise UsageError(f"{opt('config')} {shown(p)}: model_type {shown(kind or 'missing')} is not one wattprint "
                     f"counts (GPT-2, Llama/Mistral, BERT, T5 shapes); pass {opt('params')} N instead")


def _i(cfg, *keys, default=None) -> int:
    for k in keys:
        if cfg.get(k) is not None:
            v = cfg[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or v > 1e9:
                raise ValueError(k)
            return int(v)
    if default is not None:
        return default
    raise KeyError(keys[0])


def _gpt2(c) -> dict:
    h, L, V, P = _i(c, "n_embd"), _i(c, "n_layer"), _i(c, "vocab_size"), _i(c, "n_positions")
    i = _i(c, "n_inner", default=4 * h)
    layer = 2 * h + (h * 3 * h + 3 * h) + (h * h + h) + 2 * h + (h * i + i) + (i * h + h)
    n = V * h + P * h + L * layer + 2 * h
    return {"params": float(n), "layers": L, "hidden": h, "note": f"GPT-2 shape: {n:,} parameters (tied head)"}


def _llama(c) -> dict:
    h, L, V, i = _i(c, "hidden_size"), _i(c, "num_hidden_layers"), _i(c, "vocab_size"), _i(c, "intermediate_size")
    heads = _i(c, "num_attention_heads")
    kv = _i(c, "num_key_value_heads", default=heads)
    hd = _i(c, "head_dim", default=h // max(heads, 1))
    bias = bool(c.get("attention_bias")) or str(c.get("model_type")) == "qwen2"
    attn = h * heads * hd + 2 * h * kv * hd + heads * hd * h + ((heads + 2 * kv) * hd if bias else 0)
    layer = attn + 3 * h * i + 2 * h
    tied = bool(c.get("tie_word_embeddings", False))
    n = V * h * (1 if tied else 2) + L * layer + h
    kind = c.get("model_type") or "Llama-style"
    return {"params": float(n), "layers": L, "hidden": h,
            "note": f"{kind} shape (gated MLP): {n:,} parameters ({'tied' if tied else 'untied'} head)"}


def _bert(c) -> dict:
    h, L, V, i = _i(c, "hidden_size"), _i(c, "num_hidden_layers"), _i(c, "vocab_size"), _i(c, "intermediate_size")
    P, T = _i(c, "max_position_embeddings", default=512), _i(c, "type_vocab_size", default=2)
    layer = 3 * (h * h + h) + (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
    n = (V + P + T) * h + 2 * h + L * layer + (h * h + h)
    return {"params": float(n), "layers": L, "hidden": h, "note": f"BERT shape: {n:,} parameters (with pooler)"}


def _t5(c) -> dict:
    d, ff, V = _i(c, "d_model"), _i(c, "d_ff"), _i(c, "vocab_size")
    inner = _i(c, "num_heads") * _i(c, "d_kv")
    enc = _i(c, "num_layers")
    dec = _i(c, "num_decoder_layers", default=enc)
    gated = str(c.get("feed_forward_proj", "relu")).startswith("gated")
    ffn = (3 if gated else 2) * d * ff
    attn = 4 * d * inner
    buckets = _i(c, "relative_attention_num_buckets", default=32) * _i(c, "num_heads")
    n = V * d + enc * (attn + ffn + 2 * d) + dec * (2 * attn + ffn + 3 * d) + 2 * d + 2 * buckets
    if not c.get("tie_word_embeddings", True):
        n += V * d
    return {"params": float(n), "layers": enc + dec, "hidden": inner,
            "note": f"T5 shape: {n:,} parameters ({enc} encoder + {dec} decoder layers)"}
