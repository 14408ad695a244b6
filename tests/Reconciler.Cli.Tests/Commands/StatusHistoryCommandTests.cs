using System.Collections.Immutable;
using LibGit2Sharp;
using Reconciler.Cli;
using Reconciler.Diff.Live;
using Reconciler.State;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Git;
using Xunit;

namespace Reconciler.Cli.Tests.Cli;

/// <summary>status/history end to end: the example infra repo committed to a temp Git repo, a real SQLite store.</summary>
public sealed class StatusHistoryCommandTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly TempDir _dir = new();
    private readonly string _head;

    public StatusHistoryCommandTests()
    {
        CopyDirectory(Path.Combine(GitFixture.ProjectRoot(), "examples", "infra-repo"), _dir.Path);
        Repository.Init(_dir.Path);
        using var repo = new Repository(_dir.Path);
        Commands.Stage(repo, "*");
        var sig = new Signature("Dev", "dev@example.com", T0);
        _head = repo.Commit("example", sig, sig).Sha;
    }

    public void Dispose() => _dir.Dispose();

    private static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            if (!dir.Contains($"{Path.DirectorySeparatorChar}.reconciler", StringComparison.Ordinal))
                Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            if (!file.Contains($"{Path.DirectorySeparatorChar}.reconciler", StringComparison.Ordinal))
                File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }

    private async Task Seed()
    {
        await using var store = StateStores.Open("sqlite:.reconciler/state.db", _dir.Path, TimeProvider.System);
        var live = await store.ReadAsync("staging", CancellationToken.None);
        var api = new LiveService("api", "1.4.2", "1.4.2-abcdef0123", "hash", "aaaa0000aaaa0000", [],
            ImmutableSortedDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal),
            ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("local-1", new LiveHost("local-1", "1.4.2-abcdef0123", null))]));
        await store.WriteAsync("staging", live.Version, StateChange.Empty with { UpsertServices = [api], LastGoodCommit = "aaaa0000aaaa0000" }, CancellationToken.None);
        await store.AppendHistoryAsync(new HistoryEntry("h1", "staging", "aaaa0000aaaa0000", "Dev <dev@example.com>", "alice@laptop", T0, T0.AddSeconds(30),
            ApplyResult.Succeeded, ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("api", "created 1.4.2, healthy")]), null), CancellationToken.None);
        await store.AppendHistoryAsync(new HistoryEntry("h2", "staging", "bbbb1111bbbb1111", "Dev <dev@example.com>", "daemon@ci", T0.AddMinutes(5), T0.AddMinutes(6),
            ApplyResult.RolledBack, ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("api", "health gate failed; rolled back to 1.4.2")]),
            "revert bbbb1111bbbb"), CancellationToken.None);
    }

    private async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var exit = await CliApp.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Status_compares_head_with_live_state_from_the_store_named_in_reconciler_yaml()
    {
        await Seed();
        var (exit, output, error) = await Run("status", "--env", "staging", "--repo", _dir.Path);
        Assert.True(exit == 0, error);
        Assert.Contains($"desired:   {_head[..12]} (HEAD)", output);
        Assert.Contains("last deploy: bbbb1111bbbb rolled-back", output);
        Assert.Matches(@"api\s+1\.5\.0\s+1\.4\.2\s+upgrade\s+health gate failed; rolled back to 1\.4\.2", output);
        Assert.Contains("local-1: 1.4.2-abcdef0123", output);
        Assert.Matches(@"web\s+2\.1\.0\s+-\s+not-deployed", output);

        var json = await Run("status", "--env", "staging", "--repo", _dir.Path, "--format", "json");
        Assert.Equal(0, json.Exit);
        Assert.Contains("\"state\": \"upgrade\"", json.Out);
    }

    [Fact]
    public async Task Status_asks_the_hosts_unless_recorded_and_drift_exits_2_with_detailed_exitcode()
    {
        // Nothing recorded yet: nothing can have drifted.
        var none = await Run("drift", "--env", "staging", "--repo", _dir.Path, "--detailed-exitcode");
        Assert.True(none.Exit == ExitCodes.Ok, none.Err);
        Assert.StartsWith("staging: no drift", none.Out);

        // The store records api 1.4.2 on local-1, which holds nothing of ours (the local driver's host is empty).
        await Seed();
        var (exit, output, error) = await Run("status", "--env", "staging", "--repo", _dir.Path);
        Assert.True(exit == 0, error);
        Assert.Matches(@"api\s+local-1\s+\S+\s+1\.4\.2-abcdef0123\s+-\s+not-checked\s+unknown-host", output);
        var recorded = await Run("status", "--env", "staging", "--repo", _dir.Path, "--recorded");
        Assert.DoesNotContain("live (", recorded.Out);
        Assert.Contains("local-1: 1.4.2-abcdef0123", recorded.Out);

        var drift = await Run("drift", "--env", "staging", "--repo", _dir.Path, "--detailed-exitcode");
        Assert.Equal(ExitCodes.Changes, drift.Exit);
        Assert.Contains("api on local-1: unknown-host", drift.Out);
        Assert.Contains("reconciler apply --env staging --repair-drift", drift.Out);
        var plain = await Run("drift", "--env", "staging", "--repo", _dir.Path, "--format", "json");
        Assert.Equal(ExitCodes.Ok, plain.Exit);   // without --detailed-exitcode drift is not a failure
        Assert.Contains("\"drift\": [", plain.Out);
        Assert.Contains("\"unknown-host\"", plain.Out);
    }

    [Fact]
    public async Task Plan_with_repair_drift_asks_the_hosts_and_shows_each_drifted_hosts_repair()
    {
        // The store records staging as applied, api on local-1 included; the local driver's host holds nothing of ours.
        var model = Reconciler.Schema.Loading.RepoLoader.Load(Reconciler.Git.WorkingTreeSource.Open(_dir.Path)).Model!;
        var applied = LiveProjection.AsApplied(Reconciler.Schema.Model.DesiredStateBuilder.Build(model, "staging") with { Revision = _head });
        await using (var store = StateStores.Open("sqlite:.reconciler/state.db", _dir.Path, TimeProvider.System))
            await store.WriteAsync("staging", 0, StateChange.Empty with { UpsertServices = [.. applied.Services.Values], LastGoodCommit = _head }, CancellationToken.None);

        var without = await Run("plan", "--env", "staging", "--repo", _dir.Path, "--rev", "HEAD", "--full");
        Assert.True(without.Exit == 0, without.Err);
        Assert.DoesNotContain("repair", without.Out);   // a plan never reaches the hosts unless asked

        var (exit, output, error) = await Run("plan", "--env", "staging", "--repo", _dir.Path, "--rev", "HEAD", "--repair-drift", "--detailed-exitcode");
        Assert.True(exit == ExitCodes.Changes, error);
        Assert.Matches(@"~ api  repair ", output);
        Assert.Matches(@"local-1: re-stage \S+ \(unknown-host: ", output);

        var json = await Run("plan", "--env", "staging", "--repo", _dir.Path, "--rev", "HEAD", "--repair-drift", "--format", "json");
        Assert.Contains("\"kind\": \"re-stage\"", json.Out);

        var saved = await Run("plan", "--env", "staging", "--repo", _dir.Path, "--repair-drift", "--out", Path.Combine(_dir.Path, "plan.json"));
        Assert.Equal(ExitCodes.Error, saved.Exit);
        Assert.Contains("--repair-drift and --out exclude each other", saved.Err);
    }

    [Fact]
    public async Task History_lists_newest_first_and_honours_limit()
    {
        await Seed();
        var (exit, output, error) = await Run("history", "--env", "staging", "--repo", _dir.Path);
        Assert.True(exit == 0, error);
        Assert.True(output.IndexOf("bbbb1111bbbb", StringComparison.Ordinal) < output.IndexOf("aaaa0000aaaa", StringComparison.Ordinal));
        var one = await Run("history", "--env", "staging", "--repo", _dir.Path, "--limit", "1", "--format", "json");
        Assert.Equal(0, one.Exit);
        Assert.Contains("\"result\": \"rolled-back\"", one.Out);
        Assert.DoesNotContain("aaaa0000aaaa0000", one.Out);
    }

    [Theory]
    [InlineData("status", "--env", "nope")]
    [InlineData("history", "--env", "staging", "--limit", "0")]
    [InlineData("status", "--env", "staging", "--state", "redis://x")]
    public async Task Bad_input_is_a_one_line_error_with_exit_1(params string[] args)
    {
        var (exit, _, error) = await Run([.. args, "--repo", _dir.Path]);
        Assert.Equal(ExitCodes.Error, exit);
        Assert.StartsWith("error: ", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public async Task History_of_a_mistyped_repo_is_an_error_and_of_a_repo_without_state_is_empty_without_creating_a_store()
    {
        var missing = Path.Combine(_dir.Path, "no-such-repo");
        var typo = await Run("history", "--env", "staging", "--repo", missing);
        Assert.Equal(ExitCodes.Error, typo.Exit);
        Assert.Contains("no such directory", typo.Err);
        Assert.False(Directory.Exists(missing));

        var fresh = Path.Combine(_dir.Path, "fresh");
        Directory.CreateDirectory(fresh);
        var empty = await Run("history", "--env", "staging", "--repo", fresh);
        Assert.True(empty.Exit == 0, empty.Err);
        Assert.False(Directory.Exists(Path.Combine(fresh, ".reconciler")));
    }
}
