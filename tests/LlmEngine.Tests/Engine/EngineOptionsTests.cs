using System.CommandLine;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Bench;
using LlmEngine.Host.Cli;
using LlmEngine.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmEngine.Tests.Engine;

/// <summary>One options record: its rules, and the doors that derive from it (flags, configuration, bench JSON).</summary>
public sealed class EngineOptionsTests
{
    private static EngineOptions Parse(params string[] args)
    {
        var set = new EngineOptionSet();
        var command = new Command("x");
        set.AddTo(command);
        var parsed = command.Parse(args);
        Assert.Empty(parsed.Errors);
        return set.Bind(parsed);
    }

    [Theory]
    [InlineData("--max-num-batched-tokens", "0", "--max-num-batched-tokens must be at least 1, got 0")]
    [InlineData("--max-num-seqs", "0", "--max-num-seqs must be at least 1, got 0")]
    [InlineData("--block-size", "64", "--block-size must be between 1 and 32, got 64")]
    [InlineData("--swap-space", "-1", "--swap-space must not be negative, got -1")]
    [InlineData("--dtype", "int8", "--dtype must be one of float32, fp32, float, bfloat16, bf16, got int8")]
    [InlineData("--kv-cache-dtype", "int8", "--kv-cache-dtype must be one of auto, float32, fp32, bfloat16, bf16, float16, fp16, fp8, fp8_e4m3, fp8_e5m2, got int8")]
    public void AValueOutOfRangeIsOneLineNamingTheFlag(string flag, string value, string message)
    {
        var e = Assert.Throws<EngineOptionsException>(() => Parse(flag, value));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void TheDefaultsAreValid() => new EngineOptions().Validate();

    [Theory]
    [InlineData(new string[0], true)]
    [InlineData(new[] { "--enable-prefix-caching" }, true)]
    [InlineData(new[] { "--no-enable-prefix-caching" }, false)]
    [InlineData(new[] { "--enable-prefix-caching", "false" }, false)]
    public void PrefixCachingFlagsAreHonoured(string[] args, bool expected) =>
        Assert.Equal(expected, Parse(args).EnablePrefixCaching);

    [Fact]
    public void EverySettingIsAFlagAndABenchJsonKey()
    {
        var options = Parse("--max-num-seqs", "7", "--preemption-mode", "swap", "--shutdown-grace-seconds", "3");
        var json = BenchJson.Engine(options);

        Assert.Equal(EngineOptions.Settings.Select(s => s.JsonKey), json.Keys);
        Assert.Equal((7, "swap", 3.0), ((int)json["max_num_seqs"]!, (string)json["preemption_mode"]!, (double)json["shutdown_grace_seconds"]!));
    }

    [Fact]
    public void ConfigurationBindingIsValidatedWhenTheHostStarts()
    {
        var section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Engine:MaxNumBatchedTokens"] = "0" }).Build().GetSection("Engine");
        var services = new ServiceCollection();
        services.AddLlmEngine(section);

        var options = services.BuildServiceProvider().GetRequiredService<EngineOptions>();

        Assert.Equal(0, options.MaxNumBatchedTokens);
        Assert.Throws<EngineOptionsException>(() => InferenceEngine.Start(options));
    }
}
