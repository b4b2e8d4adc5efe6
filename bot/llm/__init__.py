"""Summarizers behind the Summarizer port: offline extractive, or a model API."""
