// An empty library named as TorchSharp's, linked against only so that the guard names
// libLibTorchSharp.so as a dependency (the real one is loaded by TorchSharp; never shipped).
