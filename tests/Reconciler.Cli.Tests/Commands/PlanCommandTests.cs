using System.Text.Json;
using Reconciler.Cli;
using Reconciler.Diff.Live;
using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Git;
using Reconciler.Views;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Cli.Tests.Cli;

/// <summary>`reconciler plan` end to end, through the CLI entry point, on real Git repositories.</summary>
public sealed class PlanCommandTests : IDisposable
{
    private readonly GitFixture _git = new();
    private readonly TempDir _tmp = new();

    public PlanCommandTests() => _git.CommitExampleRepo();

    public void Dispose()
    {
        _git.Dispose();
        _tmp.Dispose();
    }

    private static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private Task<(int Exit, string Out, string Err)> Plan(params string[] args) => Run(["plan", "--repo", _git.Root, .. args]);

    [Theory]
    [InlineData("text", "example-production.txt")]
    [InlineData("markdown", "example-production.md")]
    [InlineData("json", "example-production.json")]
    public async Task Example_repo_plans_match_the_goldens(string format, string golden)
    {
        var (exit, stdout, stderr) = await Plan("--rev", "HEAD", "--env", "production", "--format", format);
        Assert.True(exit == 0, stderr);
        Golden.Match(stdout, golden);
    }

    [Fact]
    public async Task All_environments_in_one_markdown_comment()
    {
        var (exit, stdout, stderr) = await Plan("--rev", "HEAD", "--all-envs", "--format", "markdown");
        Assert.True(exit == 0, stderr);
        Assert.True(stdout.Length < MarkdownPlanView.DefaultLimit);
        Golden.Match(stdout, "example-all-envs.md");
    }

    [Fact]
    public async Task Split_at_writes_numbered_parts_each_with_the_summary_and_prints_their_paths()
    {
        var dir = Path.Combine(_tmp.Path, "parts");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "plan-part-09.md"), "stale part of an earlier run");
        var (exit, stdout, stderr) = await Plan("--rev", "HEAD", "--env", "production", "--format", "markdown", "--split-at", "6000", "--out-dir", dir);
        Assert.True(exit == 0, stderr);
        var paths = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.InRange(paths.Length, 2, 8);
        Assert.Equal(Directory.GetFiles(dir).Order(), paths.Order());
        for (var i = 0; i < paths.Length; i++)
        {
            Assert.Equal(Path.Combine(dir, $"plan-part-{i + 1:D2}.md"), paths[i]);
            var part = File.ReadAllText(paths[i]);
            Assert.True(part.Length <= 6000, $"{paths[i]}: {part.Length}");
            Assert.Contains($"(part {i + 1} of {paths.Length})", part.Split('\n')[0]);
            Assert.Contains("#### Risk", part);
        }
        // Every service's details once, across the parts.
        var all = string.Concat(paths.Select(File.ReadAllText));
        foreach (var service in new[] { "db-migrate", "feature-config", "auth", "worker", "api", "web" })
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(all, $"<code>\\+ {service}</code>"));
    }

    [Theory]
    [InlineData(new[] { "--split-at", "60000" }, "--split-at and --out-dir go together")]
    [InlineData(new[] { "--split-at", "60000", "--out-dir", "x", "--format", "text" }, "--split-at splits Markdown")]
    [InlineData(new[] { "--split-at", "100", "--out-dir", "x", "--format", "markdown" }, "--split-at 100 is too small")]
    public async Task Split_at_misuse_is_one_error_line(string[] args, string message)
    {
        var (exit, stdout, stderr) = await Plan(["--rev", "HEAD", "--env", "production", .. args]);
        Assert.Equal(ExitCodes.Error, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith($"error: {message}", stderr);
    }

    [Fact]
    public async Task All_environments_as_json_is_an_array_of_plan_documents()
    {
        var (exit, stdout, stderr) = await Plan("--rev", "HEAD", "--all-envs", "--format", "json");
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(["production", "staging"], doc.RootElement.EnumerateArray().Select(e => e.GetProperty("environment").GetString()));
        var single = await Plan("--rev", "HEAD", "--env", "staging", "--format", "json");
        Assert.Equal(JsonDocument.Parse(single.Out).RootElement.GetRawText(), doc.RootElement[1].GetRawText());
    }

    [Fact]
    public async Task Base_preview_shows_only_what_the_commit_changes()
    {
        var baseSha = _git.Repository.Head.Tip.Sha;
        var api = File.ReadAllText(_git.PathOf("services/api.yaml"));
        _git.Write("services/api.yaml", api.Replace("LOG_LEVEL: info", "LOG_LEVEL: warn", StringComparison.Ordinal));
        _git.Commit("api: quieter logs");
        var (exit, stdout, stderr) = await Plan("--rev", "HEAD", "--base", baseSha, "--env", "production", "--format", "markdown", "--detailed-exitcode");
        Assert.True(exit == ExitCodes.Changes, stderr);
        Assert.Contains("1 to reconfigure", stdout);
        Assert.Contains("config.LOG_LEVEL: \"info\" -> \"warn\"", stdout);
        Golden.Match(stdout, "example-base-preview.md");

        var same = await Plan("--rev", "HEAD", "--base", "HEAD", "--env", "production", "--detailed-exitcode");
        Assert.Equal(ExitCodes.Ok, same.Exit);
        Assert.Contains("No changes.", same.Out);
    }

    [Fact]
    public async Task Detailed_exitcode_is_0_when_live_state_matches_and_2_when_not()
    {
        var live = _tmp.Combine("live.json");
        File.WriteAllText(live, JsonSerializer.Serialize(LiveProjection.AsApplied(LoadDesired("production"), version: 12), ReconcilerJson.Options));

        var same = await Plan("--rev", "HEAD", "--env", "production", "--live", live, "--detailed-exitcode");
        Assert.True(same.Exit == ExitCodes.Ok, same.Err + same.Out);
        Assert.Contains("live state version 12", same.Out);
        Assert.Contains("No changes.", same.Out);

        var plain = await Plan("--rev", "HEAD", "--env", "production");
        Assert.Equal(ExitCodes.Ok, plain.Exit);
        var changes = await Plan("--rev", "HEAD", "--env", "production", "--detailed-exitcode");
        Assert.Equal(ExitCodes.Changes, changes.Exit);
    }

    [Fact]
    public async Task Out_saves_exactly_the_json_plan()
    {
        var file = _tmp.Combine("plan.json");
        var (exit, stdout, stderr) = await Plan("--rev", "HEAD", "--env", "staging", "--format", "json", "--out", file);
        Assert.True(exit == 0, stderr);
        Assert.Equal(stdout, File.ReadAllText(file));
        var plan = SavedPlanFile.Parse(File.ReadAllText(file), file);
        Assert.Equal(_git.Repository.Head.Tip.Sha, plan.Commit);
        Assert.Equal("staging", plan.Environment);
        Assert.Contains("saved the plan to", stderr);
    }

    [Fact]
    public async Task Second_plan_of_a_one_file_change_parses_only_that_file()
    {
        var first = await Plan("--rev", "HEAD", "--all-envs", "--format", "json", "--verbose");
        Assert.True(first.Exit == 0, first.Err);
        var files = Directory.GetFiles(_git.Root, "*.yaml", SearchOption.AllDirectories).Length;
        Assert.Contains($"loaded {files} files: 0 from the parse cache, {files} parsed", first.Err);

        var web = File.ReadAllText(_git.PathOf("services/web.yaml"));
        _git.Write("services/web.yaml", web + "\n# touched\n");
        _git.Commit("touch web");
        // --full: the parse cache of the full load (an incremental plan loads only the changed file and what it needs).
        var second = await Plan("--rev", "HEAD", "--all-envs", "--format", "json", "--verbose", "--full");
        Assert.True(second.Exit == 0, second.Err);
        Assert.Contains($"loaded {files} files: {files - 1} from the parse cache, 1 parsed", second.Err);
    }

    [Fact]
    public async Task A_second_plan_against_the_store_is_settled_by_the_converged_memo_and_is_the_same_plan()
    {
        var db = _tmp.Combine("state.db");
        var deployed = LiveProjection.AsApplied(LoadDesired("production"));
        await using (var store = new Reconciler.State.Sqlite.SqliteStateStore(db, TimeProvider.System))
            await store.WriteAsync("production", 0, new StateChange([.. deployed.Services.Values], [], [.. deployed.Toggles.Values], [], deployed.LastGoodCommit), CancellationToken.None);
        // --full: the memo of the full plan (a plan of the same commit would otherwise come from the first one's snapshot).
        string[] args = ["--rev", "HEAD", "--env", "production", "--state", $"sqlite:{db}", "--format", "json", "--verbose", "--full"];
        var count = deployed.Services.Count;

        var first = await Plan(args);
        Assert.True(first.Exit == 0, first.Err);
        Assert.Contains($"({count} services, 0 in the converged memo)", first.Err);
        Assert.Contains("(0 services settled by the memo)", first.Err);
        Assert.True(File.Exists(ConvergedMemoFile.PathFor(_git.Root, "production")));

        var second = await Plan(args);
        Assert.True(second.Exit == 0, second.Err);
        Assert.Contains($"({count} services, {count} in the converged memo)", second.Err);
        Assert.Contains($"({count} services settled by the memo)", second.Err);
        Assert.Equal(first.Out, second.Out);

        // Someone changes the store by hand: the stored bytes of api no longer match its memo entry, so the plan
        // compares it in full and shows the drift, exactly as a plan without a memo does.
        using (var sql = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db}"))
        {
            sql.Open();
            using var update = sql.CreateCommand();
            update.CommandText = "UPDATE services SET body = replace(body, '\"config.LOG_LEVEL\":\"info\"', '\"config.LOG_LEVEL\":\"debug\"') WHERE env = 'production' AND name = 'api'";
            Assert.Equal(1, update.ExecuteNonQuery());
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var drifted = await Plan(args);
        Assert.True(drifted.Exit == 0, drifted.Err);
        Assert.Contains($"({count - 1} services settled by the memo)", drifted.Err);
        Assert.Contains("config changed: LOG_LEVEL", drifted.Out);
        Directory.Delete(Path.GetDirectoryName(ConvergedMemoFile.PathFor(_git.Root, "production"))!, recursive: true);
        var withoutMemo = await Plan(args);
        Assert.Equal(withoutMemo.Out, drifted.Out);

        // A damaged memo is no memo.
        File.WriteAllText(ConvergedMemoFile.PathFor(_git.Root, "production"), "not a memo");
        var damaged = await Plan(args);
        Assert.True(damaged.Exit == 0, damaged.Err);
        Assert.Contains($"({count} services, 0 in the converged memo)", damaged.Err);
        Assert.Equal(withoutMemo.Out, damaged.Out);
    }

    [Fact]
    public async Task A_corrupt_stored_service_is_a_store_error_even_when_the_converged_memo_knew_it()
    {
        var db = _tmp.Combine("state.db");
        var deployed = LiveProjection.AsApplied(LoadDesired("production"));
        await using (var store = new Reconciler.State.Sqlite.SqliteStateStore(db, TimeProvider.System))
            await store.WriteAsync("production", 0, new StateChange([.. deployed.Services.Values], [], [.. deployed.Toggles.Values], [], deployed.LastGoodCommit), CancellationToken.None);
        string[] args = ["--rev", "HEAD", "--env", "production", "--state", $"sqlite:{db}"];
        Assert.Equal(ExitCodes.Ok, (await Plan(args)).Exit);   // leaves a memo that lists every stored service

        using (var sql = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db}"))
        {
            sql.Open();
            using var update = sql.CreateCommand();
            update.CommandText = "UPDATE services SET body = '{\"name\":\"api\"' WHERE env = 'production' AND name = 'api'";
            Assert.Equal(1, update.ExecuteNonQuery());
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var (exit, stdout, stderr) = await Plan(args);
        Assert.Equal(ExitCodes.StoreUnavailable, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: stored value at sqlite:", stderr);
        Assert.Contains("services[production/api]", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public async Task A_toggle_that_no_planned_version_satisfies_is_an_error()
    {
        _git.Write("toggles/needs-future.yaml", """
            apiVersion: reconciler/v1
            kind: Toggle
            name: needs-future
            requires:
              api: ">=9.0.0"
            environments:
              production: true
            """);
        _git.Commit("impossible toggle");
        var (exit, stdout, stderr) = await Plan("--rev", "HEAD", "--env", "production");
        Assert.Equal(ExitCodes.Error, exit);
        Assert.Equal("", stdout);
        Assert.Contains("cannot plan environment 'production'", stderr);
        Assert.Contains("needs-future", stderr);
        Assert.Contains(">=9.0.0", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Theory]
    [InlineData("{ \"environment\": \"production\", \"version\": 1, ", "live.json:1:")]
    [InlineData("{ \"environment\": \"production\", \"version\": \"x\", \"services\": {}, \"toggles\": {} }", "live.json:1:")]
    [InlineData("{ \"environment\": \"production\", \"version\": 1, \"toggles\": {} }", "missing or wrong 'services'")]
    [InlineData("{ \"environment\": \"production\", \"version\": 1, \"services\": {}, \"toggles\": {}, \"surprise\": 1 }", "surprise")]
    [InlineData("{ \"environment\": \"staging\", \"version\": 1, \"services\": {}, \"toggles\": {} }", "for environment 'staging', not 'production'")]
    public async Task Bad_live_state_files_are_clear_errors(string json, string expected)
    {
        var live = _tmp.Combine("live.json");
        File.WriteAllText(live, json);
        var (exit, _, stderr) = await Plan("--rev", "HEAD", "--env", "production", "--live", live);
        Assert.Equal(ExitCodes.Error, exit);
        Assert.StartsWith("error: ", stderr);
        Assert.Contains(expected, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Theory]
    [InlineData(new[] { "--env", "production", "--all-envs" }, "exclude each other")]
    [InlineData(new[] { "--env", "nowhere" }, "unknown environment 'nowhere'")]
    [InlineData(new string[0], "choose an environment with --env")]
    [InlineData(new[] { "--all-envs", "--out", "x.json" }, "one environment")]
    [InlineData(new[] { "--env", "production", "--live", "/nonexistent/live.json" }, "cannot read the live state file")]
    public async Task Usage_errors_exit_1_with_a_message(string[] args, string expected)
    {
        var (exit, stdout, stderr) = await Plan(["--rev", "HEAD", .. args]);
        Assert.Equal(ExitCodes.Error, exit);
        Assert.Equal("", stdout);
        Assert.Contains(expected, stderr);
    }

    [Fact]
    public async Task An_invalid_repo_prints_its_diagnostics_and_plans_nothing()
    {
        _git.Write("services/broken.yaml", "apiVersion: reconciler/v1\nkind: Service\nname: broken\nversion: [1\n");
        _git.Commit("broken");
        var (exit, stdout, stderr) = await Plan("--rev", "HEAD", "--env", "production");
        Assert.Equal(ExitCodes.Error, exit);
        Assert.Equal("", stdout);
        Assert.Contains("services/broken.yaml:", stderr);
        Assert.Contains("nothing was planned", stderr);
    }

    private DesiredState LoadDesired(string environment)
    {
        using var infra = InfraRepo.Open(_git.Root, "HEAD");
        var result = RepoLoader.Load(infra.Source);
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        return DesiredStateBuilder.Build(result.Model!, environment);
    }
}
