using System.Text;
using Reconciler.Schema.Loading;

namespace Reconciler.Schema.Tests;

public class ParseCacheTests
{
    [Fact]
    public void A_warm_load_takes_every_unchanged_file_from_the_cache_and_parses_only_the_changed_one()
    {
        var cache = new MemoryParseCache();
        var files = FixtureRepo.Files();
        var cold = RepoLoader.Load(new InMemoryRepoSource(files), cache);

        files["services/auth.yaml"] = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(files["services/auth.yaml"]).Replace("2.0.0-rc.1", "2.0.0"));
        var warm = RepoLoader.Load(new InMemoryRepoSource(files), cache);

        Assert.Equal(new LoadStats(files.Count, 0, files.Count), cold.Stats);
        Assert.Equal(new LoadStats(files.Count, files.Count - 1, 1), warm.Stats);
        Assert.Equal("2.0.0", warm.Model!.Services["auth"].Base.Version);
    }

    [Fact]
    public void A_model_loaded_from_the_cache_equals_one_parsed_from_scratch()
    {
        var cache = new MemoryParseCache();
        RepoLoader.Load(FixtureRepo.Source(), cache);

        var fromCache = RepoLoader.Load(FixtureRepo.Source(), cache);
        var fromScratch = RepoLoader.Load(FixtureRepo.Source());

        Assert.Equal(fromScratch.Stats.Files, fromCache.Stats.CacheHits);
        Assert.Equal(Dump(fromScratch), Dump(fromCache));
    }

    [Fact]
    public void The_example_repo_loaded_from_the_cache_equals_the_example_parsed_from_scratch()
    {
        var files = Directory.EnumerateFiles(ExampleRepo(), "*.y*ml", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(ExampleRepo(), f).StartsWith('.'))
            .ToDictionary(f => Path.GetRelativePath(ExampleRepo(), f).Replace('\\', '/'), File.ReadAllBytes, StringComparer.Ordinal);
        var cache = new MemoryParseCache();
        var fromScratch = RepoLoader.Load(new InMemoryRepoSource(files), cache);

        var fromCache = RepoLoader.Load(new InMemoryRepoSource(files), cache);

        Assert.False(fromScratch.HasErrors, FixtureRepo.Render(fromScratch));
        Assert.Equal(new LoadStats(files.Count, files.Count, 0), fromCache.Stats);
        Assert.Equal(Dump(fromScratch), Dump(fromCache));
    }

    public static TheoryData<string> BadCases() => [.. FixtureRepo.BadCases()];

    /// <summary>A warm load decodes a file's tree only to place an error; the findings must not change.</summary>
    [Theory]
    [MemberData(nameof(BadCases))]
    public void Every_bad_case_reports_the_same_diagnostics_from_a_warm_cache(string badCase)
    {
        var cache = new MemoryParseCache();
        RepoLoader.Load(FixtureRepo.Source(badCase), cache);

        var warm = RepoLoader.Load(FixtureRepo.Source(badCase), cache);

        Assert.Equal(0, warm.Stats.Parsed);
        Assert.Equal(FixtureRepo.Render(RepoLoader.Load(FixtureRepo.Source(badCase))), FixtureRepo.Render(warm));
    }

    /// <summary>A cold load makes each valid file's model right after parsing it and lets its JSON tree go (converted
    /// again only to place an error): the fast path, also when every cache entry is another build's (the first plan
    /// after an upgrade). The slow path keeps every tree until the semantic pass, as before. All give the same model
    /// and findings.</summary>
    [Theory]
    [MemberData(nameof(BadCasesAndValid))]
    public void A_cold_load_that_lets_trees_go_early_equals_one_that_keeps_them(string badCase)
    {
        var files = FixtureRepo.Files(badCase is "good" ? null : badCase);
        var kept = RepoLoader.Load(new InMemoryRepoSource(files), options: new LoadOptions { KeepParseTrees = true });

        var early = RepoLoader.Load(new InMemoryRepoSource(files));
        var afterUpgrade = RepoLoader.Load(new InMemoryRepoSource(files), new CorruptCache("another build's entry"u8.ToArray()));

        var read = files.Keys.Count(path => RepoLoader.KindOf(path, out _) is not null);   // not the ignored ones
        Assert.Equal(read, early.Stats.Parsed);
        Assert.Equal(read, afterUpgrade.Stats.Parsed);
        Assert.Equal(Dump(kept), Dump(early));
        Assert.Equal(Dump(kept), Dump(afterUpgrade));
    }

    public static TheoryData<string> BadCasesAndValid() => [.. FixtureRepo.BadCases().Prepend("good")];

    [Fact]
    public void Cached_service_definitions_are_read_again_when_the_repository_defaults_change()
    {
        var cache = new MemoryParseCache();
        var files = FixtureRepo.Files();
        RepoLoader.Load(new InMemoryRepoSource(files), cache);
        files["reconciler.yaml"] = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(files["reconciler.yaml"])
            .Replace("keepReleases: 5", "keepReleases: 7").Replace("deadline: 30s", "deadline: 45s"));

        var warm = RepoLoader.Load(new InMemoryRepoSource(files), cache);
        var again = RepoLoader.Load(new InMemoryRepoSource(files), cache);

        Assert.Equal(1, warm.Stats.Parsed);
        // reports sets no keepReleases and no health timings of its own: both come from the new defaults.
        var reports = again.Model?.Services["reports"].Base ?? throw new InvalidOperationException(FixtureRepo.Render(again));
        Assert.Equal(7, reports.Deploy.KeepReleases);
        Assert.Equal(TimeSpan.FromSeconds(45), reports.Health.Deadline);
        Assert.Equal(Dump(RepoLoader.Load(new InMemoryRepoSource(files))), Dump(again));
    }

    [Fact]
    public void Cached_diagnostics_are_reported_again_with_the_same_text_and_positions()
    {
        var cache = new MemoryParseCache();
        var first = RepoLoader.Load(FixtureRepo.Source("wrong-type"), cache);
        var second = RepoLoader.Load(FixtureRepo.Source("wrong-type"), cache);

        Assert.True(second.Stats.CacheHits > 0);
        Assert.Equal(FixtureRepo.Render(first), FixtureRepo.Render(second));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{\"format\":999}")]
    [InlineData("{\"format\":1,\"schemas\":\"0000\",\"kind\":\"Service\"}")]
    [InlineData("[1,2,3]")]
    public void A_stale_or_damaged_entry_is_a_miss_not_a_crash(string entry)
    {
        var cache = new CorruptCache(Encoding.UTF8.GetBytes(entry));

        var result = RepoLoader.Load(FixtureRepo.Source(), cache);

        Assert.False(result.HasErrors);
        Assert.Equal(0, result.Stats.CacheHits);
    }

    [Fact]
    public void The_same_blob_under_another_kind_of_path_is_parsed_again()
    {
        var cache = new MemoryParseCache();
        var files = FixtureRepo.Files();
        RepoLoader.Load(new InMemoryRepoSource(files), cache);
        files["toggles/api.yaml"] = files["services/api.yaml"];

        var result = RepoLoader.Load(new InMemoryRepoSource(files), cache);

        Assert.Equal(1, result.Stats.Parsed);
        Assert.Contains(result.Diagnostics, d => d.RuleId == "schema.kind" && d.Location!.File == "toggles/api.yaml");
    }

    [Fact]
    public void Content_ids_are_git_blob_ids()
    {
        // `printf 'hello\n' | git hash-object --stdin`
        Assert.Equal("ce013625030ba8dba906f756967f9e9ca394464a", InMemoryRepoSource.GitBlobId("hello\n"u8));
        Assert.Equal("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391", InMemoryRepoSource.GitBlobId([]));
    }

    private static string ExampleRepo([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "examples", "infra-repo"));

    private static string Dump(LoadResult r) =>
        System.Text.Json.JsonSerializer.Serialize(r.Model, new System.Text.Json.JsonSerializerOptions { WriteIndented = false, IncludeFields = true })
        + FixtureRepo.Render(r);

    private sealed class CorruptCache(byte[] entry) : IParseCache
    {
        public bool TryGet(string contentId, out ReadOnlyMemory<byte> value)
        {
            value = entry;
            return true;
        }

        public void Put(string contentId, byte[] value) { }
    }
}
