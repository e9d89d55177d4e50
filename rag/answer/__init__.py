"""Passages → Answer: the question's parse, sentence evidence, the extractive answerer, and the
generative modes (LLM clients, prompts, grounding) built on it. Imports rag.retrieve and below;
the factory that picks a mode is rag.pipeline.make_answerer."""
