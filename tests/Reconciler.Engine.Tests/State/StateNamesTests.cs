using Reconciler.State;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>The name check without the regex (<see cref="StateNames.IsSafe"/>) against the regex it replaced
/// (<see cref="StateNames.MatchesPattern"/>): the same answer for every name.</summary>
public class StateNamesTests
{
    [Theory]
    [InlineData("web-1", true)]
    [InlineData("a", true)]
    [InlineData("9.x_y-z", true)]
    [InlineData("A.b", true)]
    [InlineData("", false)]
    [InlineData(null, false)]
    [InlineData("-web", false)]
    [InlineData(".web", false)]
    [InlineData("_web", false)]
    [InlineData("web/1", false)]
    [InlineData("a..b", false)]
    [InlineData("a.b.c", true)]
    [InlineData("web 1", false)]
    [InlineData("web-1\n", false)]     // the regex's '$' let this through; '\z' does not
    [InlineData("\nweb-1", false)]
    [InlineData("wéb", false)]
    [InlineData("web١", false)]        // a non-ASCII digit
    [InlineData("ｗeb", false)]        // a full-width letter
    public void Agrees_with_the_pattern(string? name, bool safe)
    {
        Assert.Equal(safe, StateNames.IsSafe(name));
        Assert.Equal(safe, StateNames.MatchesPattern(name));
    }

    [Fact]
    public void Length_limit_is_200()
    {
        var longest = "a" + new string('b', 199);
        Assert.True(StateNames.IsSafe(longest));
        Assert.True(StateNames.MatchesPattern(longest));
        Assert.False(StateNames.IsSafe(longest + "c"));
        Assert.False(StateNames.MatchesPattern(longest + "c"));
    }

    [Fact]
    public void Agrees_with_the_pattern_on_random_names()
    {
        // Mostly allowed characters, so that many names pass and the rare bad one sits anywhere in the name.
        const string alphabet = "abcXYZ019.._--_./ \n\t\0é١ｗ\\:*";
        var random = new Random(17);
        for (var i = 0; i < 20_000; i++)
        {
            var length = random.Next(0, i % 100 == 0 ? 210 : 12);
            var name = string.Create(length, random, (span, r) =>
            {
                for (var j = 0; j < span.Length; j++) span[j] = r.Next(4) == 0 ? alphabet[r.Next(alphabet.Length)] : alphabet[r.Next(12)];
            });
            Assert.True(StateNames.IsSafe(name) == StateNames.MatchesPattern(name), $"'{name}' (length {name.Length})");
        }
    }
}
