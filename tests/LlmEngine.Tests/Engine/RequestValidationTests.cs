using LlmEngine.Actors.Engine;

namespace LlmEngine.Tests.Engine;

/// <summary>The prompt checks every door applies (engine, HTTP, gateway), in one wording.</summary>
public sealed class RequestValidationTests
{
    private static ArgumentException Check(int[] tokens, int maxTokens = 4) =>
        Assert.Throws<ArgumentException>(() => RequestValidation.Prompt(tokens, maxTokens, vocabSize: 32, maxModelLength: 16));

    [Theory]
    [InlineData(-1)]
    [InlineData(32)]
    public void ATokenIdOutsideTheVocabularyIsRefusedNamingThePrompt(int id)
    {
        var e = Check([1, id]);
        Assert.Equal(("prompt", $"Token id {id} is out of vocabulary (size 32)."), (e.ParamName, e.Message.Replace(" (Parameter 'prompt')", "")));
    }

    [Fact]
    public void AnEmptyPromptIsRefused() => Assert.Equal("prompt", Check([]).ParamName);

    [Fact]
    public void AHugeMaxTokensDoesNotWrapPastTheContextCheck() =>
        Assert.StartsWith("This model's maximum context length is 16 tokens. However, you requested 2147483649 tokens", Check([1, 2], int.MaxValue).Message);

    [Fact]
    public void APromptThatFitsPasses() => RequestValidation.Prompt([1, 2, 3], 13, vocabSize: 32, maxModelLength: 16);
}
