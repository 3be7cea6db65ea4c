using LlmEngine.Kernels.Loading;

namespace LlmEngine.Tests.Loading;

/// <summary>The fingerprint a head compares with each worker node's model copy: equal for copies of
/// one model wherever they lie, different for another model or another config.</summary>
public class ModelFingerprintTests
{
    private static string Copy(string model, TempDir to)
    {
        foreach (var file in Directory.EnumerateFiles(model)) File.Copy(file, to.File(Path.GetFileName(file)));
        foreach (var file in Directory.EnumerateFiles(to.Path)) File.SetAttributes(file, FileAttributes.Normal);
        return to.Path;
    }

    [Theory]
    [InlineData("stories260K")]
    [InlineData("llama")]
    public void ACopyElsewhereHasTheSameFingerprint(string model)
    {
        string path = model == "stories260K" ? SharedModels.Stories260K : SharedModels.TinyHf(model);
        using var copy = new TempDir();
        Assert.Equal(ModelFingerprint.Of(path, "auto"), ModelFingerprint.Of(Copy(path, copy), "auto"));
    }

    [Fact]
    public void AnotherModelOrAnotherConfigHasAnother()
    {
        string llama = SharedModels.TinyHf("llama");
        var fingerprints = new[] { ModelFingerprint.Of(llama, "auto"), ModelFingerprint.Of(SharedModels.TinyHf("gpt2"), "auto"),
            ModelFingerprint.Of(SharedModels.Stories260K, "auto"), ModelFingerprint.Of(null, "auto") };
        Assert.Equal(fingerprints.Length, fingerprints.Distinct().Count());

        using var copy = new TempDir();
        string edited = Copy(llama, copy);
        File.WriteAllText(Path.Combine(edited, "config.json"), File.ReadAllText(Path.Combine(edited, "config.json")).Replace("\"rms_norm_eps\"", "\"rms_norm_eps_\""));
        Assert.NotEqual(fingerprints[0], ModelFingerprint.Of(edited, "auto"));
    }

    [Fact]
    public void DummyWeightsCountOnlyTheConfig()
    {
        string llama = SharedModels.TinyHf("llama");
        using var copy = new TempDir();
        string other = Copy(llama, copy);
        File.WriteAllBytes(Path.Combine(other, "model.safetensors"), [1, 2, 3]);
        Assert.Equal(ModelFingerprint.Of(llama, "dummy"), ModelFingerprint.Of(other, "dummy"));
        Assert.NotEqual(ModelFingerprint.Of(llama, "auto"), ModelFingerprint.Of(other, "auto"));
    }
}
