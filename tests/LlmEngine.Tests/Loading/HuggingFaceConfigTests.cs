using LlmEngine.Kernels.Loading;

namespace LlmEngine.Tests.Loading;

public class HuggingFaceConfigTests
{
    private static HuggingFaceConfig Write(TempDir dir, string config, string? generation = null)
    {
        File.WriteAllText(dir.File("config.json"), config);
        if (generation is not null) File.WriteAllText(dir.File("generation_config.json"), generation);
        return HuggingFaceConfig.Load(dir.Path);
    }

    [Fact]
    public void TypedGettersReadTheTinyLlamaConfig()
    {
        var config = HuggingFaceConfig.Load(SharedModels.TinyHf("llama"));
        Assert.Equal(
            (64, 2, 1e-5, false, "llama"),
            (config.GetInt("hidden_size"), config.GetInt("num_key_value_heads"), config.GetDouble("rms_norm_eps"),
             config.GetBool("tie_word_embeddings"), config.GetString("model_type")));
    }

    [Fact]
    public void AbsentOrNullFieldGivesTheDefault()
    {
        var config = HuggingFaceConfig.Load(SharedModels.TinyHf("llama"));
        Assert.Equal((7, "none"), (config.GetInt("head_dim", 7), config.GetString("rope_scaling", "none")));
    }

    [Fact]
    public void RequiredFieldThatIsAbsentNamesFileAndField()
    {
        var config = HuggingFaceConfig.Load(SharedModels.TinyHf("gpt2"));
        var error = Assert.Throws<ModelLoadException>(() => config.GetInt("hidden_size"));
        Assert.Contains(Path.Combine(SharedModels.TinyHf("gpt2"), "config.json"), error.Message);
        Assert.Contains("'hidden_size'", error.Message);
    }

    [Fact]
    public void FieldOfTheWrongTypeNamesFileAndField()
    {
        using var dir = new TempDir();
        var config = Write(dir, """{"hidden_size": "wide"}""");
        var error = Assert.Throws<ModelLoadException>(() => config.GetInt("hidden_size"));
        Assert.Contains(dir.File("config.json"), error.Message);
        Assert.Contains("'hidden_size'", error.Message);
    }

    [Fact]
    public void EosMayBeAList()
    {
        using var dir = new TempDir();
        var config = Write(dir, """{"eos_token_id": [2, 32000]}""");
        Assert.Equal([2, 32000], config.EosTokenIds);
    }

    [Fact]
    public void EosFromGenerationConfigWins()
    {
        using var dir = new TempDir();
        var config = Write(dir, """{"bos_token_id": 1, "eos_token_id": 2}""", """{"eos_token_id": [2, 7]}""");
        Assert.Equal([2, 7], config.EosTokenIds);
    }

    [Fact]
    public void ConfigValuesStandWhereGenerationConfigIsSilentOrNull()
    {
        using var dir = new TempDir();
        var config = Write(dir, """{"bos_token_id": 1, "eos_token_id": 2}""", """{"bos_token_id": null}""");
        Assert.Equal((1, 2), (config.BosTokenId, config.EosTokenIds.Single()));
    }

    [Fact]
    public void BadEosInGenerationConfigNamesThatFile()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), "{}");
        File.WriteAllText(dir.File("generation_config.json"), """{"eos_token_id": "</s>"}""");
        var error = Assert.Throws<ModelLoadException>(() => HuggingFaceConfig.Load(dir.Path));
        Assert.Contains(dir.File("generation_config.json"), error.Message);
    }

    [Fact]
    public void NoBosWhenNeitherFileSetsIt()
    {
        using var dir = new TempDir();
        Assert.Null(Write(dir, "{}").BosTokenId);
    }
}
