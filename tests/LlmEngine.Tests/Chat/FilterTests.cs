namespace LlmEngine.Tests.Chat;

/// <summary>Filters chat templates lean on.</summary>
public class FilterTests
{
    [Fact]
    public void TrimStripsWhitespaceOrGivenCharacters() =>
        Assert.Equal("a b|a", Jinja.Render("{{ ' \\n a b \\t' | trim }}|{{ 'xxaxx' | trim('x') }}"));

    [Fact]
    public void FiltersBindTighterThanConcatenation() =>
        Assert.Equal("[a]", Jinja.Render("{{ '[' + '  a  ' | trim + ']' }}"));

    [Fact]
    public void DefaultReplacesUndefinedOnlyUnlessBooleanIsSet() =>
        Assert.Equal("d||d", Jinja.Render("{{ missing | default('d') }}|{{ '' | default('d') }}|{{ '' | d('d', true) }}"));

    [Fact]
    public void SelectattrAndMapPickMessageFields() =>
        Assert.Equal("a,b", Jinja.RenderMessages(
            "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }}",
            ("user", "a"), ("assistant", "x"), ("user", "b")));

    [Fact]
    public void LengthCountsCodePoints() =>
        Assert.Equal("4", Jinja.Render("{{ s | length }}", ("s", "😀abc")));

    [Fact]
    public void TitleFilterDiffersFromStrTitle() =>
        Assert.Equal("They're Bill's|They'Re Bill'S", Jinja.Render("{{ s | title }}|{{ s.title() }}", ("s", "they're bill's")));

    [Fact]
    public void IndentSkipsTheFirstAndBlankLinesByDefault() =>
        Assert.Equal("a\n  b\n\n  c", Jinja.Render("{{ 'a\\nb\\n\\nc' | indent(2) }}"));

    [Fact]
    public void DictsortOrdersKeysCaseInsensitively() =>
        Assert.Equal("[('A', 2), ('b', 1)]", Jinja.Render("{{ {'b': 1, 'A': 2} | dictsort }}"));

    [Fact]
    public void RoundIsHalfToEvenOnTheExactBinaryValue() =>
        Assert.Equal("2.0 4.0 2.67 5", Jinja.Render("{{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 5 | round }}"));

    [Fact]
    public void IntAndFloatFallBackToTheirDefaults() =>
        Assert.Equal("4 0 3.0 0.0", Jinja.Render("{{ '4.7' | int }} {{ 'x' | int }} {{ '3' | float }} {{ 'x' | float }}"));

    [Fact]
    public void EscapeEscapesHtmlEvenWithAutoescapeOff() =>
        Assert.Equal("&lt;b&gt; &amp; &#34;q&#34;|<b>", Jinja.Render("{{ '<b> & \"q\"' | e }}|{{ '<b>' | safe }}"));

    [Fact]
    public void UnknownFilterFailsWhenUsed() =>
        Assert.Equal("No filter named 'nope'.", Jinja.Fails("{{ 1 | nope }}").Message);
}
