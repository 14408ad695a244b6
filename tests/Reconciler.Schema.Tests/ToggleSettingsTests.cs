using System.Text;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;

namespace Reconciler.Schema.Tests;

/// <summary>`toggles.removableAfter` of reconciler.yaml: read as a duration, defaulted, refused at its line when malformed.</summary>
public class ToggleSettingsTests
{
    private static LoadResult LoadWith(string yaml)
    {
        var files = FixtureRepo.Files();
        files["reconciler.yaml"] = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(files["reconciler.yaml"]).TrimEnd('\n') + "\n" + yaml);
        return RepoLoader.Load(new InMemoryRepoSource(files));
    }

    [Fact]
    public void The_threshold_is_read_and_defaults_to_30_days()
    {
        var set = LoadWith("toggles:\n  removableAfter: 336h\n");
        Assert.False(set.HasErrors, FixtureRepo.Render(set));
        Assert.Equal(TimeSpan.FromDays(14), set.Model!.Repository.ToggleRemovalAge);

        var unset = RepoLoader.Load(new InMemoryRepoSource(FixtureRepo.Files()));
        Assert.Null(unset.Model!.Repository.ToggleRemovableAfter);
        Assert.Equal(TimeSpan.FromDays(30), unset.Model.Repository.ToggleRemovalAge);
    }

    [Theory]
    [InlineData("toggles:\n  removableAfter: 30d\n", "/toggles/removableAfter", "schema.pattern")]
    [InlineData("toggles:\n  removeAfter: 720h\n", "/toggles/removeAfter", "schema.unknown-field")]
    public void A_malformed_setting_is_refused_at_its_line(string yaml, string pointer, string rule)
    {
        var result = LoadWith(yaml);
        var lines = Encoding.UTF8.GetString(FixtureRepo.Files()["reconciler.yaml"]).TrimEnd('\n').Split('\n').Length;
        var d = Assert.Single(result.Diagnostics, d => d.JsonPointer == pointer);
        Assert.Equal((rule, "reconciler.yaml", lines + 2), (d.RuleId, d.Location?.File, d.Location?.Line));
    }
}
