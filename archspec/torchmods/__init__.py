"""Custom torch modules that some layers build (one file per layer family).

A ``TorchCtor.cls`` of the form ``"<family>.<Class>"`` names ``archspec.torchmods.<family>``;
the standalone-source backend copies these classes into the emitted file.
"""
