using System.Security.Cryptography;

namespace LlmEngine.Kernels.Loading;

/// <summary>
/// A cheap fingerprint of a model's files, equal for two copies of one model wherever they lie:
/// SHA-256 over config.json and over the weights file's length and first 64 KiB (a safetensors or
/// GGUF header with every tensor's name, shape and offset; a llama2.c header and the start of its
/// embedding; a sharded model's index). With dummy weights only config.json counts (the weights come
/// from the seed). It reads well under a MiB, so a worker node can prove its copy before loading.
/// </summary>
public static class ModelFingerprint
{
    private const int HeadBytes = 64 * 1024;

    /// <returns>16 hex digits, or "embedded" for the embedded default model</returns>
    public static string Of(string? path, string loadFormat)
    {
        if (string.IsNullOrEmpty(path)) return "embedded";
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        string config = Path.Combine(path, HuggingFaceConfig.FileName);
        bool dummy = loadFormat == "dummy";
        if (dummy && Directory.Exists(path) && File.Exists(config)) Add(hash, config);
        else
        {
            var files = ModelLocator.Resolve(path);
            if (files.ConfigPath is { } c) Add(hash, c);
            if (!dummy || files.ConfigPath is null) Add(hash, files.WeightsPath);
        }
        return Convert.ToHexString(hash.GetHashAndReset())[..16].ToLowerInvariant();
    }

    private static void Add(IncrementalHash hash, string file)
    {
        using var stream = File.OpenRead(file);
        hash.AppendData(BitConverter.GetBytes(stream.Length));
        var head = new byte[(int)Math.Min(HeadBytes, stream.Length)];
        stream.ReadExactly(head);
        hash.AppendData(head);
    }
}
