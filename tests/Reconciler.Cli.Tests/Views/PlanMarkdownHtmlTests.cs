using System.Net;
using System.Text.RegularExpressions;
using Markdig;
using Reconciler.Cli;
using Reconciler.Diff.Planning;
using Reconciler.Engine.Tests.Git;
using Reconciler.Engine.Tests.Views;
using Reconciler.Testing;
using Reconciler.Views;
using Xunit;

namespace Reconciler.Cli.Tests.Views;

/// <summary>
/// The Markdown plan as a reviewer sees it: rendered by a CommonMark engine with GitHub's table extension (Markdig),
/// and the assertions made on the HTML. Golden HTML for the example repo's production plan, a change plan (a version
/// bump, a config change, a toggle flip) and a 3,000-service plan split into parts.
/// </summary>
public sealed partial class PlanMarkdownHtmlTests : IDisposable
{
    // GitHub's flavour: CommonMark plus pipe tables, strikethrough, autolinks and task lists; raw HTML passes through
    // (GitHub then sanitises it, keeping <details>, <summary> and <code>).
    private static readonly MarkdownPipeline Gfm = new MarkdownPipelineBuilder()
        .UsePipeTables().UseEmphasisExtras(Markdig.Extensions.EmphasisExtras.EmphasisExtraOptions.Strikethrough)
        .UseAutoLinks().UseTaskLists().Build();

    private readonly GitFixture _git = new();
    private readonly TempDir _tmp = new();

    public PlanMarkdownHtmlTests() => _git.CommitExampleRepo();

    public void Dispose()
    {
        _git.Dispose();
        _tmp.Dispose();
    }

    internal static string Html(string markdown) => Markdown.ToHtml(markdown, Gfm);

    private async Task<string> PlanMarkdown(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(["plan", "--repo", _git.Root, "--format", "markdown", .. args], stdout, stderr);
        Assert.True(exit is 0 or 2, stderr.ToString());
        return stdout.ToString();
    }

    [Fact]
    public async Task Example_production_plan_as_GitHub_shows_it()
    {
        var html = Html(await PlanMarkdown("--rev", "HEAD", "--env", "production"));
        Golden.Match(html, "example-production.html");
        Assert.Contains("Nothing is deployed in <code>production</code> yet", html);
        Assert.DoesNotContain("live state version 0", html);
        // Toggle requirements read as written: CommonMark shows a code span literally, so an HTML entity in the
        // Markdown source would be shown to the reader as "&gt;=" (the bug this fixes).
        Assert.Contains("<code>api &gt;=1.5.0</code>", html);
        Assert.DoesNotContain("&amp;gt;", html);
        // The risk summary comes before the waves and the details.
        Assert.True(html.IndexOf("<h4>Risk</h4>", StringComparison.Ordinal) < html.IndexOf("wave</th>", StringComparison.Ordinal));
        Assert.Contains("<td>canary: 1 host first, then 50% of the group per batch</td>", html);
        Assert.Contains("<td>1 check, 2 passes in a row within 1m</td>", html);
        // Values by type: numbers, durations and lists bare, text quoted.
        var diff = Code(html);
        Assert.Contains("+ deploy.keepReleases = 5\n", diff);
        Assert.Contains("+ strategy.canary = 1\n", diff);
        Assert.Contains("+ health.deadline = 1m\n", diff);
        Assert.Contains("+ dependsOn = []\n", diff);
        Assert.Contains("+ dependsOn = [auth, db-migrate]\n", diff);
        Assert.Contains("+ config.PORT = \"8080\"\n", diff);
        Assert.DoesNotContain("= \"5\"", diff);
    }

    [Fact]
    public async Task Change_plan_shows_the_bump_the_config_change_and_the_toggle_flip()
    {
        var baseSha = _git.Repository.Head.Tip.Sha;
        var api = File.ReadAllText(_git.PathOf("services/api.yaml"));
        var pinStart = api.IndexOf("  production:\n    version: 1.4.2", StringComparison.Ordinal);
        var pinEnd = api.IndexOf("  staging:", StringComparison.Ordinal);
        _git.Write("services/api.yaml", api.Remove(pinStart, pinEnd - pinStart));
        var web = File.ReadAllText(_git.PathOf("services/web.yaml"));
        _git.Write("services/web.yaml", ReplaceOnce(web, "LOG_LEVEL: info", "LOG_LEVEL: warn"));
        var toggle = File.ReadAllText(_git.PathOf("toggles/new-checkout.yaml"));
        _git.Write("toggles/new-checkout.yaml", ReplaceOnce(toggle, "production: false", "production: true"));
        _git.Commit("production: api 1.5.0, quieter web logs, new checkout on");

        var html = Html(await PlanMarkdown("--rev", "HEAD", "--base", baseSha, "--env", "production"));
        Golden.Match(html, "example-change.html");
        Assert.Contains("<strong>1 to upgrade, 1 to reconfigure, 1 toggle change, 4 unchanged.</strong>", html);
        Assert.Contains("<code>~ api</code> upgrade 1.4.2 -&gt; 1.5.0", html);
        Assert.Contains("~ config.LOG_LEVEL: &quot;info&quot; -&gt; &quot;warn&quot;", html);
        Assert.Matches("<strong>Toggle</strong> <code>new-checkout</code> on: after wave \\d passes its health gates", html);
        Assert.Contains("<td>rolls back</td>", html);
    }

    [Fact]
    public async Task The_plan_shows_the_lock_and_freeze_the_store_holds_now()
    {
        var db = _tmp.Combine("state.db");
        var open = Html(await PlanMarkdown("--rev", "HEAD", "--env", "production", "--state", $"sqlite:{db}"));
        Assert.Contains("<li><strong>Lock and freeze:</strong> not locked, not frozen when planned.</li>", open);

        await using (var store = new Reconciler.State.Sqlite.SqliteStateStore(db, TimeProvider.System))
        {
            Assert.True((await store.TryAcquireLockAsync("production", "alice", "db <migration>", TimeSpan.FromHours(1), CancellationToken.None)).Acquired);
            await store.SetFreezeAsync("production", new Reconciler.State.FreezeInfo("release week", "carol", DateTimeOffset.UtcNow), CancellationToken.None);
        }
        var held = Html(await PlanMarkdown("--rev", "HEAD", "--env", "production", "--state", $"sqlite:{db}"));
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Assert.Matches("<li>⚠️ <strong>Locked:</strong> by alice until [0-9-]+ [0-9:]+Z: db &lt;migration&gt; — apply will refuse \\(exit 6\\) unless --force --reason\\.</li>", held);
        Assert.Matches("<li>⚠️ <strong>Frozen:</strong> since [0-9-]+ [0-9:]+Z by carol: release week — apply will refuse \\(exit 6\\) unless --force --reason\\.</li>", held);
        Assert.DoesNotContain("not locked", held);
    }

    [Fact]
    public void A_3000_service_plan_splits_into_parts_that_each_stand_alone_and_drop_nothing()
    {
        var plan = PlanScenarios.Generated(3000);
        var parts = MarkdownPlanView.RenderParts([plan], MarkdownPlanView.DefaultLimit);
        Assert.InRange(parts.Count, 2, 99);
        var seen = new List<string>();
        for (var i = 0; i < parts.Count; i++)
        {
            Assert.True(parts[i].Length <= MarkdownPlanView.DefaultLimit, $"part {i + 1}: {parts[i].Length} characters");
            var html = Html(parts[i]);
            // Golden HTML for the first two parts and the last; the others are held to the same structure below.
            if (i < 2 || i == parts.Count - 1) Golden.Match(html, $"generated-3000-part-{i + 1:D2}.html");
            Assert.Contains($"(part {i + 1} of {parts.Count})</h3>", html);
            Assert.Contains("<h4>Risk</h4>", html);
            Assert.Contains("<strong>Stops:</strong> 60 services are removed, stopped on 240 hosts in all: <code>retired-059</code>", html);
            seen.AddRange(SummaryServices().Matches(html).Select(m => m.Groups[1].Value));
        }
        var changed = plan.Services.Where(s => s.Action != ServiceAction.NoOp).Select(s => s.Service).ToList();
        Assert.Equal(changed, seen); // every changed service once, in plan order, across the parts
    }

    [Fact]
    public void All_environments_start_with_a_table_across_them()
    {
        var html = Html(MarkdownPlanView.Render([PlanScenarios.Showcase(), PlanScenarios.Generated(60)]));
        Assert.StartsWith("<h3>Reconciler plan: 2 environments</h3>", html);
        Assert.Contains("<th>environment</th>", html);
        Assert.Matches("<td><code>production</code></td>\\s*<td>1 to create, 2 to upgrade, 1 to downgrade", html);
    }

    [Fact]
    public void Changed_lists_show_before_after_and_what_moved()
    {
        var before = PlanScenarios.Desired([PlanScenarios.Svc("db", "1.0.0", "db", []), PlanScenarios.Svc("cache", "1.0.0", "db", []),
            PlanScenarios.Svc("api", "1.0.0", "app", ["cache"])], []);
        var after = PlanScenarios.Desired([PlanScenarios.Svc("db", "1.0.0", "db", []), PlanScenarios.Svc("cache", "1.0.0", "db", []),
            PlanScenarios.Svc("api", "1.0.0", "app", ["db"])], []);
        var plan = Planner.Plan(after, PlanScenarios.Applied(before, 7), PlanOptions.Default);
        Assert.Contains("~ dependsOn: [cache] -&gt; [db] (+ db, - cache)", Html(MarkdownPlanView.Render(plan)));
        Assert.Contains("~ dependsOn: [cache] -> [db] (+ db, - cache)", TextPlanView.Render(plan));
    }

    [Fact]
    public void Values_cannot_break_out_of_code_spans_or_tables()
    {
        var desired = PlanScenarios.Desired([PlanScenarios.Svc("api", "1.0.0", "app", [])], []);
        var toggle = new Reconciler.Schema.Model.DesiredToggle("odd", true,
            System.Collections.Immutable.ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("api", "<2.0.0 || >=3.0.0")]));
        var plan = Planner.Plan(desired with { Toggles = desired.Toggles.Add("odd", toggle) }, PlanScenarios.Applied(desired, 3), PlanOptions.Default);
        var html = Html(MarkdownPlanView.Render(plan));
        // One cell (the pipes did not split it), showing the range as written.
        var cell = Regex.Match(html, "<td>(<code>api .*?</code>)</td>\n<td>new toggle, on</td>");
        Assert.True(cell.Success, html);
        Assert.Equal("<code>api <2.0.0 || >=3.0.0</code>", WebUtility.HtmlDecode(cell.Groups[1].Value));
    }

    private static string ReplaceOnce(string s, string from, string to)
    {
        var at = s.IndexOf(from, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{from}' not found");
        return s[..at] + to + s[(at + from.Length)..];
    }

    /// <summary>The text of every code block, decoded.</summary>
    private static string Code(string html) =>
        string.Concat(CodeBlocks().Matches(html).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)));

    [GeneratedRegex("<pre><code class=\"language-diff\">(.*?)</code></pre>", RegexOptions.Singleline)]
    private static partial Regex CodeBlocks();

    [GeneratedRegex("<details><summary><code>[+~-] ([a-z0-9-]+)</code>")]
    private static partial Regex SummaryServices();
}
