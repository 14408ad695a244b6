using System.Text;
using Reconciler.Schema.Loading;

namespace Reconciler.Schema.Tests;

public class ToggleRangeTests
{
    [Theory]
    [InlineData(">=1.5.0")]
    [InlineData("^1.5.0")]
    [InlineData("~1.5.0")]
    [InlineData(">=1.5.0 <2.0.0")]
    [InlineData(">=1.5.0 <2.0.0 || >=3.0.0")]
    public void The_ranges_the_messages_suggest_are_accepted(string range)
    {
        var files = FixtureRepo.Files();
        files["toggles/new-checkout.yaml"] = Encoding.UTF8.GetBytes(
            $"apiVersion: reconciler/v1\nkind: Toggle\nname: new-checkout\nrequires:\n  api: \"{range}\"\n");

        var result = RepoLoader.Load(new InMemoryRepoSource(files));

        Assert.Equal("", FixtureRepo.Render(result));
    }
}
