"""Evaluation: `python -m rag.eval` scores configurations side by side on the gold set (and RGB).

    from rag.eval import load_gold, run_config, CONFIGS
    result = run_config(CONFIGS["default"], load_gold(), seeds_dir=..., workdir=..., embedder=...)
    result.overall["hit@5"]
"""

from rag.eval.configs import CONFIGS, EvalConfig, resolve
from rag.eval.gold import GoldItem, load_gold
from rag.eval.runner import RunResult, run_config

__all__ = ["CONFIGS", "EvalConfig", "GoldItem", "RunResult", "load_gold", "resolve", "run_config"]
