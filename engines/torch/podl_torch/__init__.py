"""PoDL's PyTorch training engine: the worker behind agents/ml/engines/torch.ts (docs/torch.md)."""
