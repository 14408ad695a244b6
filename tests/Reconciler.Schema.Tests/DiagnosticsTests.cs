using System.Text;
using Reconciler.Schema.Loading;
using Reconciler.Testing;

namespace Reconciler.Schema.Tests;

public class DiagnosticsTests
{
    public static TheoryData<string> BadCases() => new(FixtureRepo.BadCases());

    [Theory]
    [MemberData(nameof(BadCases))]
    public void Bad_input_is_reported_with_exact_diagnostics(string badCase)
    {
        var result = RepoLoader.Load(FixtureRepo.Source(badCase));

        Assert.True(result.HasErrors);
        Assert.Null(result.Model);
        Golden.Match(FixtureRepo.Render(result), $"{badCase}.txt");
    }

    [Fact]
    public void Good_repo_loads_without_diagnostics()
    {
        var result = RepoLoader.Load(FixtureRepo.Source());

        Assert.Equal("", FixtureRepo.Render(result));
        Assert.False(result.HasErrors);
        Assert.NotNull(result.Model);
    }

    [Fact]
    public void A_file_over_one_mebibyte_is_refused_without_being_read()
    {
        var files = FixtureRepo.Files();
        var big = new StringBuilder("apiVersion: reconciler/v1\nkind: Toggle\nname: big\ndescription: >\n");
        while (big.Length <= 1024 * 1024) big.Append("  lorem ipsum dolor sit amet consectetur adipiscing elit\n");
        files["toggles/big.yaml"] = Encoding.UTF8.GetBytes(big.ToString());
        var source = new InMemoryRepoSource(files);
        var reads = new List<string>();
        var counting = new CountingSource(source, reads);

        var result = RepoLoader.Load(counting);

        Assert.True(result.HasErrors);
        Assert.DoesNotContain("toggles/big.yaml", reads);
        Golden.Match(FixtureRepo.Render(result), "too-large.txt");
    }

    [Fact]
    public void A_yaml_file_that_is_not_read_is_named_in_a_warning()
    {
        // A service moved into a subdirectory and a toggle named .yml: neither is read (docs/format.md), each is named,
        // and what depends on the service says it is not defined.
        var files = FixtureRepo.Files();
        files["services/team/auth.yaml"] = files["services/auth.yaml"];
        files.Remove("services/auth.yaml");
        files["toggles/old-checkout.yml"] = files["toggles/new-checkout.yaml"];
        var result = RepoLoader.Load(new InMemoryRepoSource(files));

        Assert.True(result.HasErrors);
        Golden.Match(FixtureRepo.Render(result), "ignored-files.txt");
    }

    [Fact]
    public void Diagnostics_are_sorted_by_file_line_column_and_rule()
    {
        var files = FixtureRepo.Files("unsafe-host");
        files["services/auth.yaml"] = FixtureRepo.Files("wrong-type")["services/auth.yaml"];
        var result = RepoLoader.Load(new InMemoryRepoSource(files));

        var locations = result.Diagnostics.Select(d => d.Location!).ToList();
        Assert.Equal(locations.Order().ToList(), locations);
        Assert.Contains(result.Diagnostics, d => d.Location!.File == "environments/staging.yaml");
        Assert.Contains(result.Diagnostics, d => d.Location!.File == "services/auth.yaml");
    }

    private sealed class CountingSource(IRepoFileSource inner, List<string> reads) : IRepoFileSource
    {
        public string Revision => inner.Revision;

        public IReadOnlyList<RepoFile> ListFiles() =>
            inner.ListFiles().Select(f => new RepoFile(f.Path, f.ContentId, () => f.Size, () => { reads.Add(f.Path); return f.ReadContent(); })).ToList();
    }
}
