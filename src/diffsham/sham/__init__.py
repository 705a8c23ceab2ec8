"""The physics of subhalo abundance matching: ingredient models and the exact solver."""
