"""Sequence packing for SFT: several conversations per row, each attending only within itself.

``SFTConfig.pack_to`` > 0 turns a step's batch of conversations (token ids + loss masks) into rows of at
most ``pack_to`` tokens instead of one right-padded row per conversation. The loss is the same token-mean
NLL over the same assistant tokens; only the padding (and the compute spent on it) shrinks.

* Placement (``pack_rows``): first-fit decreasing, deterministic. Conversations are taken longest first
  (ties in batch order), each into the first row with room for it, else a new row. A conversation longer
  than ``pack_to`` is not cut (that would change the loss): it gets a row of its own, as long as it is.
* Within a row each conversation keeps its own position ids (0, 1, ...) and a causal mask confined to its
  block: a 4D mask ``[rows, 1, T, T]`` that transformers (>= 4.45) passes through as-is, bool for SDPA
  attention (the default), additive float (0 / the dtype's min) for eager. The padding at a row's end
  is a block of its own (so no query row is fully masked); its loss mask is 0.
* Boundaries: position ``t`` predicts token ``t + 1``, so the last token of one conversation "predicts"
  the first token of the next. That target is dropped: the loss mask is forced to 0 at every
  conversation's first token (it already is 0 there, the first token being the prompt), exactly as the
  unpacked path never scores a row's first token.

Flash-attention-2 (``attn_implementation="flash_attention_2"``) takes no 4D mask; the default attention
(SDPA, or eager) does. The bool mask costs ``rows × T²`` bytes (16 MiB for one 4,096-token row; 4x
that as eager's float mask).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from mentor_agents.train.common import autocast
from mentor_agents.train.losses import token_logprobs

Example = tuple[Sequence[int], Sequence[int]]  # (token ids, loss mask)


def pack_rows(lengths: Sequence[int], pack_to: int) -> list[list[int]]:
    """Indices of ``lengths`` grouped into rows of total length ``<= pack_to`` (first-fit decreasing).

    Deterministic: longest first, ties in the given order; within a row, indices in placement order. A
    length over ``pack_to`` gets a row of its own.
    """
    if pack_to < 1:
        raise ValueError("pack_to must be at least 1")
    rows: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        length = lengths[index]
        for r, free in enumerate(room):
            if length <= free:
                rows[r].append(index)
                room[r] -= length
                break
        else:
            rows.append([index])
            room.append(pack_to - length)
    return rows


@dataclass
class PackedBatch:
    """A step's conversations packed into rows (all tensors ``[rows, T]`` but the mask)."""

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    attention_mask: torch.Tensor
    """``[rows, 1, T, T]`` bool: True where a query may attend a key (its own conversation, causally)."""
    loss_mask: torch.Tensor
    """Float, 0 at each conversation's first token and on padding."""
    rows: list[list[int]]
    """The example indices in each row, in row order."""

    tokens: int
    """Real (conversation) tokens in the batch; the rest of ``input_ids`` is padding."""

    @property
    def padding(self) -> int:
        """Padding tokens in the batch."""
        return self.input_ids.numel() - self.tokens


def block_causal_mask(segment_ids: torch.Tensor) -> torch.Tensor:
    """``[rows, 1, T, T]`` bool mask, True where query ``i`` may attend key ``j``: ``j <= i``, same segment."""
    width = segment_ids.shape[1]
    causal = torch.ones(width, width, dtype=torch.bool, device=segment_ids.device).tril()
    return ((segment_ids[:, :, None] == segment_ids[:, None, :]) & causal)[:, None]


def attention_mask_for(model: Any, allowed: torch.Tensor) -> torch.Tensor:
    """``allowed`` (bool, True: attend) in the form ``model``'s attention takes a 4D mask in.

    SDPA takes the bool mask itself; eager attention adds the mask to its scores, so it gets 0 / the
    float min in the weights' dtype. Flash attention takes no custom mask: a ``ValueError``.
    """
    implementation = str(getattr(model.config, "_attn_implementation", None) or "eager")
    if implementation.startswith(("flash", "paged")):
        raise ValueError(
            f"sequence packing needs a 4D attention mask, which {implementation!r} attention does not take; "
            "load the model with attn_implementation='sdpa' or 'eager', or set pack_to=0"
        )
    if implementation == "sdpa":
        return allowed
    dtype = next(model.parameters()).dtype
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, torch.finfo(dtype).min)


def pack_examples(examples: Sequence[Example], pack_to: int, device: Any = "cpu") -> PackedBatch:
    """Pack ``examples`` (token ids, loss mask) into rows of at most ``pack_to`` tokens (see the module doc)."""
    if not examples:
        raise ValueError("nothing to pack")
    rows = pack_rows([len(ids) for ids, _ in examples], pack_to)
    width = max(sum(len(examples[i][0]) for i in row) for row in rows)
    ids, pos, seg, loss = [], [], [], []
    for row in rows:
        r_ids: list[int] = []
        r_pos: list[int] = []
        r_seg: list[int] = []
        r_loss: list[float] = []
        for s, index in enumerate(row):
            tokens, mask = examples[index]
            if len(tokens) != len(mask):
                raise ValueError(f"example {index}: {len(tokens)} tokens but {len(mask)} mask entries")
            r_ids += tokens
            r_pos += range(len(tokens))
            r_seg += [s] * len(tokens)
            r_loss += [0.0] + [float(m) for m in mask[1:]]  # never predict a conversation's first token
        pad = width - len(r_ids)
        ids.append(r_ids + [0] * pad)
        pos.append(r_pos + list(range(pad)))
        seg.append(r_seg + [len(row)] * pad)  # the padding: a block of its own
        loss.append(r_loss + [0.0] * pad)
    segment_ids = torch.tensor(seg, dtype=torch.long, device=device)
    return PackedBatch(
        input_ids=torch.tensor(ids, dtype=torch.long, device=device),
        position_ids=torch.tensor(pos, dtype=torch.long, device=device),
        attention_mask=block_causal_mask(segment_ids),
        loss_mask=torch.tensor(loss, dtype=torch.float32, device=device),
        rows=rows,
        tokens=sum(len(ids) for ids, _ in examples),
    )


def score_packed(model: Any, packed: PackedBatch, precision: str = "auto") -> torch.Tensor:
    """Log-prob of each token of the packed rows given its conversation's prefix, ``[rows, T-1]``, fp32.

    As ``common.score_tokens``: position ``t`` scores ``input_ids[:, t + 1]``, so pair it with
    ``packed.loss_mask[:, 1:]`` (0 across conversation boundaries).
    """
    ids = packed.input_ids
    with autocast(ids.device, precision):
        mask = attention_mask_for(model, packed.attention_mask)
        out = model(input_ids=ids, attention_mask=mask, position_ids=packed.position_ids)
    return token_logprobs(out.logits[:, :-1], ids[:, 1:])
