using System.Text;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;

namespace Reconciler.Schema.Tests;

/// <summary>reconciler.yaml's `selfHeal` (issue 13): a boolean, false when absent, kept by the parse cache's codec.</summary>
public class SelfHealTests
{
    private static LoadResult Load(string? selfHeal)
    {
        var files = FixtureRepo.Files();
        var text = Encoding.UTF8.GetString(files["reconciler.yaml"]);
        if (selfHeal is not null) files["reconciler.yaml"] = Encoding.UTF8.GetBytes(text.TrimEnd() + "\nselfHeal: " + selfHeal + "\n");
        return RepoLoader.Load(new InMemoryRepoSource(files));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("false", false)]
    [InlineData("true", true)]
    public void SelfHeal_is_read_and_defaults_to_off(string? written, bool expected)
    {
        var result = Load(written);
        Assert.False(result.HasErrors, FixtureRepo.Render(result));
        Assert.Equal(expected, result.Model!.Repository.SelfHeal);

        var w = new ModelWriter();
        ModelCodec.Write(w, result.Model.Repository);
        var r = new ModelReaderSpan(w.WrittenSpan);
        Assert.Equal(expected, ((RepositorySpec)ModelCodec.Read(ref r, "reconciler.yaml")).SelfHeal);
    }

    [Fact]
    public void SelfHeal_must_be_a_boolean()
    {
        var result = Load("\"yes\"");
        Assert.Contains(result.Diagnostics, d => d.JsonPointer == "/selfHeal");
    }
}
