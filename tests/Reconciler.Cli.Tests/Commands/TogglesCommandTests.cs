using System.Collections.Immutable;
using System.Text.Json;
using LibGit2Sharp;
using Reconciler.Cli;
using Reconciler.Diff.Live;
using Reconciler.Engine.Tests.Git;
using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.State;
using Reconciler.Testing;
using Reconciler.Toggles;
using Reconciler.Views;
using Xunit;

namespace Reconciler.Cli.Tests.Cli;

/// <summary>`reconciler toggles` end to end: the example repo committed to a temp Git repo, a real SQLite store
/// seeded as two applies would have left it; and the text view against a golden.</summary>
public sealed class TogglesCommandTests : IDisposable
{
    private readonly TempDir _dir = new();
    private static readonly string Example = Path.Combine(GitFixture.ProjectRoot(), "examples", "infra-repo");

    public TogglesCommandTests()
    {
        foreach (var file in Directory.GetFiles(Example, "*.yaml", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(Example, file);
            if (relative.StartsWith(".reconciler", StringComparison.Ordinal) || relative.StartsWith("schemas", StringComparison.Ordinal)) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(_dir.Path, relative))!);
            File.Copy(file, Path.Combine(_dir.Path, relative));
        }
        Repository.Init(_dir.Path);
        using var repo = new Repository(_dir.Path);
        Commands.Stage(repo, "*");
        var sig = new Signature("Dev", "dev@example.com", DateTimeOffset.UtcNow);
        repo.Commit("example", sig, sig);
    }

    public void Dispose() => _dir.Dispose();

    private static LiveService Worker(string version) => Service("worker", version);

    private static LiveService Service(string name, string version) =>
        new(name, version, $"{version}-0123456789", "hash", "c0", [], ImmutableSortedDictionary<string, string>.Empty,
            ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("local-1", new LiveHost("local-1", $"{version}-0123456789", null))]));

    private async Task Seed(TimeSpan productionAge)
    {
        var now = DateTimeOffset.UtcNow;
        await using var store = StateStores.Open(null, "sqlite:.reconciler/state.db", _dir.Path, TimeProvider.System);
        foreach (var (env, age) in new[] { ("staging", TimeSpan.FromDays(45)), ("production", productionAge) })
        {
            var live = await store.ReadAsync(env, CancellationToken.None);
            await store.WriteAsync(env, live.Version, StateChange.Empty with
            {
                UpsertServices = [Worker("1.1.0")],
                UpsertToggles = [new LiveToggle("fast-search", true, "abcdef0123456789", now - age)],
            }, CancellationToken.None);
        }
    }

    private static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var exit = await CliApp.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Lists_each_toggle_per_environment_with_its_requirements_and_says_which_can_be_removed()
    {
        await Seed(productionAge: TimeSpan.FromDays(31));
        var (exit, output, error) = await Run("toggles", "--repo", _dir.Path);

        Assert.True(exit == 0, error);
        Assert.Matches(@"\n  production +on +on +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(31d ago\) by abcdef012345 +worker >=1\.1\.0 \(1\.1\.0\)\n", output);
        Assert.Matches(@"fast-search  Search served from the worker-built index\n(.*\n){3}  ready to remove: yes", output);
        Assert.Matches(@"new-checkout[^\n]*\n(.*\n){3}  ready to remove: no: off in production; api is not deployed in production \(>=1\.5\.0 required\); web is not deployed in production \(>=2\.1\.0 required\); on in the repo but not yet applied in staging", output);

        var json = await Run("toggles", "--repo", _dir.Path, "--format", "json", "--env", "staging");
        Assert.True(json.Exit == 0, json.Err);
        using var doc = JsonDocument.Parse(json.Out);
        var fastSearch = doc.RootElement.GetProperty("toggles").EnumerateArray().Single(t => t.GetProperty("toggle").GetString() == "fast-search");
        Assert.True(fastSearch.GetProperty("readyToRemove").GetBoolean());
        Assert.Equal(["staging"], fastSearch.GetProperty("environments").EnumerateArray().Select(e => e.GetProperty("environment").GetString()));
    }

    [Fact]
    public async Task A_toggle_switched_on_recently_somewhere_is_not_ready()
    {
        await Seed(productionAge: TimeSpan.FromDays(3));
        var (exit, output, error) = await Run("toggles", "--repo", _dir.Path, "--env", "production");
        Assert.True(exit == 0, error);
        Assert.Contains("ready to remove: no: on in production for 3d of the 30d required", output);
        Assert.DoesNotContain("\n  staging", output);
    }

    [Fact]
    public async Task An_unknown_environment_is_a_one_line_error_with_exit_1()
    {
        var (exit, _, error) = await Run("toggles", "--repo", _dir.Path, "--env", "nope");
        Assert.Equal(ExitCodes.Error, exit);
        Assert.Equal("error: --env nope: the repo has no such environment; it has production, staging.\n", error.Replace("\r", ""));
    }

    [Fact]
    public void The_text_view_matches_its_golden()
    {
        var now = new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
        var model = RepoLoader.Load(WorkingTreeSource.Open(Example)).Model!;
        EnvironmentRecords Records(string env, string api, TimeSpan fastSearchAge, bool newCheckout) => new(
            StateJson.BuildState(env, 3, [Worker("1.1.0"), Service("api", api)],
                [new LiveToggle("fast-search", true, "abcdef0123456789", now - fastSearchAge), new LiveToggle("new-checkout", newCheckout, "0123456789abcdef", now - TimeSpan.FromHours(5))],
                null), []);
        var report = ToggleCatalog.Build(model with { Revision = "c0ffee00c0ffee00" }, new Dictionary<string, EnvironmentRecords>
        {
            ["production"] = Records("production", "1.4.2", TimeSpan.FromDays(31), false),
            ["staging"] = Records("staging", "1.5.0", TimeSpan.FromDays(45), true),
        }, now);

        Golden.Match(ToggleCatalogView.RenderText(report), "toggles.txt");
    }
}
