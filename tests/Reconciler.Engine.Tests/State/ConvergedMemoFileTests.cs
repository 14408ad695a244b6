using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.State;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Views;
using Xunit;

namespace Reconciler.Engine.Tests.State;

public sealed class ConvergedMemoFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The memo a plan that found <paramref name="services"/> converged records (through the planner, as in use).</summary>
    private static ConvergedMemo WithFound(params string[] services)
    {
        var memo = ConvergedMemo.Create();
        var desired = PlanScenarios.Desired(services.Select(s => PlanScenarios.Svc(s, "1.0.0", "app", [])), []);
        var state = PlanScenarios.Applied(desired, 1);
        state = state with
        {
            Services = state.Services.ToImmutableSortedDictionary(kv => kv.Key,
                kv => kv.Value.FromStoredBytes(memo.Digest(System.Text.Encoding.UTF8.GetBytes(kv.Key))), StringComparer.Ordinal),
        };
        var match = ConvergedMemoMatch.Start(memo, desired, 1);
        return match.Record(state, Planner.Plan(desired, state, new PlanOptions(KnownConverged: match.KnownConverged(state))));
    }

    [Fact]
    public void A_saved_memo_loads_with_its_seed_and_entries_for_the_same_store_only()
    {
        var path = ConvergedMemoFile.PathFor(_dir.Path, "production");
        var memo = WithFound("api", "web");
        Assert.Equal(2, memo.Count);
        Assert.True(ConvergedMemoFile.Save(path, "sqlite:/a.db", memo));

        var loaded = ConvergedMemoFile.Load(path, "sqlite:/a.db");
        Assert.Equal(memo.Seed, loaded.Seed);
        Assert.Equal(memo.Entries, loaded.Entries);
        foreach (var e in memo.Entries) Assert.True(loaded.MayMatch(e.Service, e.Live));

        var elsewhere = ConvergedMemoFile.Load(path, "sqlite:/b.db");
        Assert.Equal(0, elsewhere.Count);
        Assert.NotEqual(memo.Seed, elsewhere.Seed);
    }

    [Fact]
    public void An_absent_truncated_or_altered_memo_file_is_an_empty_memo()
    {
        var path = ConvergedMemoFile.PathFor(_dir.Path, "staging");
        Assert.Equal(0, ConvergedMemoFile.Load(path, "s").Count);
        Assert.True(ConvergedMemoFile.Save(path, "s", WithFound("api")));
        var bytes = File.ReadAllBytes(path);

        File.WriteAllBytes(path, bytes[..^5]);
        Assert.Equal(0, ConvergedMemoFile.Load(path, "s").Count);
        var altered = (byte[])bytes.Clone();
        altered[^1] ^= 1;
        File.WriteAllBytes(path, altered);
        Assert.Equal(0, ConvergedMemoFile.Load(path, "s").Count);
        File.WriteAllBytes(path, bytes);
        Assert.Equal(1, ConvergedMemoFile.Load(path, "s").Count);
    }

    [Fact]
    public void A_memo_that_cannot_be_written_is_not_an_error()
    {
        var blocker = _dir.Combine("file");
        File.WriteAllText(blocker, "");
        Assert.False(ConvergedMemoFile.Save(Path.Combine(blocker, "converged", "x.memo"), "s", WithFound("api")));
    }
}
