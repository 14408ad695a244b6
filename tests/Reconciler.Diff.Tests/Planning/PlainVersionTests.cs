using CsCheck;
using Reconciler.Diff.Planning;
using Xunit;

namespace Reconciler.Diff.Tests.Planning;

/// <summary>The hand-written fast path for plain versions (<see cref="PlainVersion"/>) against the Semver library it
/// stands in for: the same precedence for every pair, and no answer at all for what is not a plain version.</summary>
public class PlainVersionTests
{
    [Theory]
    [InlineData("1.2.3", "1.2.4", -1)]
    [InlineData("1.10.0", "1.9.9", 1)]
    [InlineData("2.0.0", "10.0.0", -1)]
    [InlineData("0.0.0", "0.0.0", 0)]
    [InlineData("999999999.0.0", "1.0.0", 1)]
    public void Compares_plain_versions_by_their_numbers(string a, string b, int expected) =>
        Assert.Equal(expected, PlainVersion.TryCompare(a, b));

    [Theory]
    [InlineData("1.2.3-rc.1")]
    [InlineData("1.2.3+build.5")]
    [InlineData("01.2.3")]
    [InlineData("1.02.3")]
    [InlineData("1.2")]
    [InlineData("1.2.3.4")]
    [InlineData("1.2.")]
    [InlineData("v1.2.3")]
    [InlineData("1.2.3 ")]
    [InlineData("1234567890.0.0")]
    [InlineData("1.2.٣")]
    [InlineData("")]
    public void Leaves_everything_else_to_semver(string other) =>
        Assert.Null(PlainVersion.TryCompare(other, "1.2.3"));

    [Fact]
    public void Gives_the_order_semver_gives()
    {
        var number = Gen.Frequency((6, Gen.Int[0, 12].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            (1, Gen.OneOf<string>("00", "01", "007", "999999999", "1000000000", "4294967296", "")));
        var core = Gen.Select(number, number, number).Select((a, b, c) => $"{a}.{b}.{c}");
        var suffix = Gen.OneOf<string>("", "", "", "", "-rc.1", "-alpha", "-0", "+build.7", "-beta+exp", ".4", " ", "x");
        var version = Gen.Select(core, suffix).Select((c, s) => c + s);
        Gen.Select(version, version).Sample((a, b) =>
            ServiceClassifier.CompareVersions(a, b) == ServiceClassifier.CompareBySemver(a, b), iter: 20_000);
    }
}
