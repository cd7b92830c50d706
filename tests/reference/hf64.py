"""True float64 forward passes of transformers' Llama / Qwen2 models.

`model.double()` alone is not float64 all the way: transformers (5.x) computes RMSNorm in
float32, the attention softmax in float32, and the rotary cos/sin from a float32 inv_freq.
That leaves ~1e-7 relative noise in every reference and makes finite differences of the loss
useless.  `exact64(model)` patches those three spots (a context manager: stock behaviour comes
back on exit) and replaces inv_freq by the same formula evaluated in float64.
"""
import contextlib
import math

import torch
from torch import nn
from transformers.models.llama import modeling_llama
from transformers.models.qwen2 import modeling_qwen2

_MODULES = (modeling_llama, modeling_qwen2)


def _rmsnorm_forward(self, hidden_states):
    variance = hidden_states.pow(2).mean(-1, keepdim=True)
    return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))


def _rotary_forward(self, x, position_ids):
    freqs = position_ids[..., None].to(torch.float64) * self.inv_freq.to(device=x.device, dtype=torch.float64)
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * self.attention_scaling).to(x.dtype), (emb.sin() * self.attention_scaling).to(x.dtype)


def _make_eager(mod):
    def eager_attention_forward(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
        key_states = mod.repeat_kv(key, module.num_key_value_groups)
        value_states = mod.repeat_kv(value, module.num_key_value_groups)
        attn_weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling
        if attention_mask is not None:
            attn_weights = attn_weights + attention_mask
        attn_weights = nn.functional.softmax(attn_weights, dim=-1)   # in the input dtype
        attn_output = torch.matmul(attn_weights, value_states)
        return attn_output.transpose(1, 2).contiguous(), attn_weights
    return eager_attention_forward


def inv_freq64(config):
    """Rotary inverse frequencies in float64: default, or llama3 scaling (the formula of
    transformers' _compute_llama3_parameters, evaluated in float64)."""
    rp = dict(config.rope_parameters)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    base = rp["rope_theta"]
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    kind = rp.get("rope_type", "default")
    if kind == "default":
        return inv
    if kind != "llama3":
        raise ValueError(f"rope_type {kind} not handled here")
    factor, lo, hi = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"]
    old = rp["original_max_position_embeddings"]
    lo_wl, hi_wl = old / lo, old / hi
    wl = 2 * math.pi / inv
    out = torch.where(wl > lo_wl, inv / factor, inv)
    smooth = (old / wl - lo) / (hi - lo)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wl < hi_wl) & ~(wl > lo_wl)
    return torch.where(medium, smoothed, out)


@contextlib.contextmanager
def exact64(model):
    rot = model.model.rotary_emb
    saved_inv = rot.inv_freq
    mine = inv_freq64(model.config)
    rel = ((mine - saved_inv.double()).abs() / mine).max().item()
    assert rel < 1e-6, f"float64 inv_freq disagrees with transformers' ({rel})"
    saved = []
    for mod in _MODULES:
        for cls_name in ("LlamaRMSNorm", "Qwen2RMSNorm", "LlamaRotaryEmbedding", "Qwen2RotaryEmbedding"):
            cls = getattr(mod, cls_name, None)
            if cls is not None:
                saved.append((cls, "forward", cls.forward))
                cls.forward = _rmsnorm_forward if "RMSNorm" in cls_name else _rotary_forward
        saved.append((mod, "eager_attention_forward", mod.eager_attention_forward))
        mod.eager_attention_forward = _make_eager(mod)
    rot.inv_freq = mine
    try:
        yield model
    finally:
        rot.inv_freq = saved_inv
        for obj, attr, val in reversed(saved):
            setattr(obj, attr, val)
