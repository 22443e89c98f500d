"""The case record: what one albench case produces, in one definition every layer reads.

A record travels from the worker that ran the case to the controller (xdist ships JSON builtins), is
stored in results files and baselines, and is read back by ``albench-report``. So it stays a plain
dict of JSON builtins; the types below say what it holds, and the functions below are the only place
that derives a case's labels from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Treatments that split rank tables when a case sets them (sizes such as k0 do not: they are scaled
#: per dataset and must not separate datasets that are ranked together), with their short names.
VARIANT_KEYS = {"initial_pool_method": "ips", "head": "head"}
#: The treatments' values when a case does not set them.
DEFAULT_IPS = "random"
DEFAULT_HEAD = "logistic"


def variant_label(settings: Mapping[str, Any]) -> str:
    """The variant a case's explicit run settings make: ``"ips=typiclust head=mlp"``, or ``""``."""
    return " ".join(f"{short}={settings[key]}" for key, short in VARIANT_KEYS.items() if key in settings)


def variant_of(record: Mapping[str, Any]) -> str:
    """The stored variant of a case record (``""`` when the case ran with the default treatments)."""
    return str(record.get("variant") or "")


def with_variant(label: str, record: Mapping[str, Any]) -> str:
    """``label`` with the case's variant appended: cases of another treatment are ranked apart."""
    variant = variant_of(record)
    return f"{label} [{variant}]" if variant else label


def ips_of(record: Mapping[str, Any]) -> str:
    """The initial-pool method the case ran with."""
    return str(record.get("config", {}).get("initial_pool_method", DEFAULT_IPS))


def head_of(record: Mapping[str, Any]) -> str:
    """The classifier head the case ran with."""
    return str(record.get("config", {}).get("head", DEFAULT_HEAD))


def cell_embedding(record: Mapping[str, Any]) -> str:
    """The embedding as a cell key; runs merged with ``--label`` stay apart (never pair across runs)."""
    label = record.get("run_label")
    return f"{record['embedding']} [run={label}]" if label else str(record["embedding"])
