using Reconciler.Diff.Planning;
using Reconciler.Testing;
using Reconciler.Views;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Cli.Tests.Views;

public class PlanViewTests
{
    private static readonly Lazy<Plan> Large = new(() => PlanScenarios.Generated(3000));

    [Fact]
    public void Showcase_text() => Golden.Match(TextPlanView.Render(PlanScenarios.Showcase()), "showcase.txt");

    [Fact]
    public void Showcase_markdown() => Golden.Match(MarkdownPlanView.Render(PlanScenarios.Showcase()), "showcase.md");

    [Fact]
    public void Showcase_json() => Golden.Match(JsonPlanView.Render(PlanScenarios.Showcase()), "showcase.json");

    /// <summary>Per-host config: each host's values of the keys that differ between hosts, under its line (issue 14).</summary>
    [Fact]
    public void Per_host_config_text() => Golden.Match(TextPlanView.Render(PlanScenarios.PerHostConfig()), "per-host-config.txt");

    [Fact]
    public void Per_host_config_markdown() => Golden.Match(MarkdownPlanView.Render(PlanScenarios.PerHostConfig()), "per-host-config.md");

    [Fact]
    public void Per_host_config_json() => Golden.Match(JsonPlanView.Render(PlanScenarios.PerHostConfig()), "per-host-config.json");

    [Fact]
    public void Repairs_text() => Golden.Match(TextPlanView.Render(PlanScenarios.Repairs()), "repairs.txt");

    [Fact]
    public void Repairs_markdown() => Golden.Match(MarkdownPlanView.Render(PlanScenarios.Repairs()), "repairs.md");

    [Fact]
    public void Repairs_json() => Golden.Match(JsonPlanView.Render(PlanScenarios.Repairs()), "repairs.json");

    [Fact]
    public void Generated_text() => Golden.Match(TextPlanView.Render(PlanScenarios.Generated(60)), "generated-60.txt");

    [Fact]
    public void Generated_json() => Golden.Match(JsonPlanView.Render(PlanScenarios.Generated(60)), "generated-60.json");

    private static readonly EnvironmentGate LockedAndFrozen = new(
        new Reconciler.State.LockInfo("production", "alice@ci pid 4242 (apply 1)", "apply 0123abc", new(2026, 12, 3, 9, 0, 0, TimeSpan.Zero), new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero)),
        new Reconciler.State.FreezeInfo("release week", "carol", new(2026, 12, 1, 8, 30, 0, TimeSpan.Zero)));

    /// <summary>The lock and freeze the store held at plan time, in the risk summary and the table across environments;
    /// an environment whose gate was not read says so.</summary>
    [Fact]
    public void Lock_and_freeze_at_plan_time_markdown() => Golden.Match(
        MarkdownPlanView.Render([PlanScenarios.Showcase(), PlanScenarios.Generated(60) with { Environment = "staging" }], gates: new Dictionary<string, EnvironmentGate> { ["production"] = LockedAndFrozen }),
        "lock-and-freeze.md");

    [Fact]
    public void Lock_and_freeze_at_plan_time_text()
    {
        var risk = TextPlanView.Render(PlanScenarios.Showcase(), gate: LockedAndFrozen);
        Assert.Contains("  ! locked by alice@ci pid 4242 (apply 1) until 2026-12-03 10:00:00Z: apply 0123abc — apply will refuse (exit 6) unless --force --reason\n", risk);
        Assert.Contains("  ! frozen since 2026-12-01 08:30:00Z by carol: release week — apply will refuse (exit 6) unless --force --reason\n", risk);
        Assert.DoesNotContain("not locked", risk);
        Assert.Contains("  lock and freeze: not locked, not frozen when planned\n", TextPlanView.Render(PlanScenarios.Showcase(), gate: EnvironmentGate.Open));
        Assert.Contains("  lock and freeze: not read (this plan did not read the state store)", TextPlanView.Render(PlanScenarios.Showcase()));
    }

    [Fact]
    public void Generated_3000_markdown_is_truncated_under_the_limit()
    {
        var md = MarkdownPlanView.Render(Large.Value);
        Assert.True(md.Length < MarkdownPlanView.DefaultLimit, $"{md.Length} characters");
        Assert.Contains("**Truncated:**", md);
        Assert.Contains("--format json", md);
        Golden.Match(md, "generated-3000.md");
    }

    [Fact]
    public void Markdown_respects_a_small_limit_and_counts_what_it_left_out()
    {
        var plan = PlanScenarios.Showcase();
        var full = MarkdownPlanView.Render(plan);
        var changed = plan.Services.Count(s => s.Action != ServiceAction.NoOp);
        var limit = full.IndexOf("<details>", StringComparison.Ordinal) + 900;
        var md = MarkdownPlanView.Render(plan, limit);
        Assert.True(md.Length <= limit, $"{md.Length} > {limit}");
        var shown = md.Split("<details>").Length - 1;
        Assert.InRange(shown, 0, changed - 1);
        Assert.Contains($"details of {changed - shown} of {changed} changed services", md);
    }

    [Fact]
    public void Json_bytes_and_stream_are_the_string_form_in_UTF8()
    {
        // 3,000 services is about 11 MB of JSON: many of ChunkedBuffer's 1 MB chunks, and writes across their edges.
        var plan = Large.Value;
        var expected = System.Text.Encoding.UTF8.GetBytes(JsonPlanView.Render(plan));
        Assert.True(expected.Length > 3 << 20, $"{expected.Length} bytes");
        Assert.Equal(expected, JsonPlanView.RenderUtf8(plan));
        using var stream = new MemoryStream();
        JsonPlanView.WriteUtf8(stream, plan);
        Assert.Equal(expected, stream.ToArray());
    }

    [Fact]
    public void Several_plans_are_one_JSON_array_of_the_documents()
    {
        // Two to five documents, up to two of them large (each about 11 MB: RenderUtf8 holds them across many 1 MB chunks).
        Plan[] all = [PlanScenarios.Showcase(), PlanScenarios.Generated(60), Large.Value, Large.Value, PlanScenarios.Generated(7)];
        for (var count = 2; count <= all.Length; count++)
        {
            var plans = all[..count];
            var expected = "[\n" + string.Join(",\n", plans.Select(p => JsonPlanView.Render(p).TrimEnd('\n'))) + "\n]\n";
            Assert.Equal(expected, System.Text.Encoding.UTF8.GetString(JsonPlanView.RenderUtf8(plans)));
            using var stream = new MemoryStream();
            JsonPlanView.WriteUtf8(stream, plans);
            Assert.Equal(expected, System.Text.Encoding.UTF8.GetString(stream.ToArray()));
        }
        Assert.Equal(JsonPlanView.RenderUtf8(all[0]), JsonPlanView.RenderUtf8([all[0]]));
    }

    [Fact]
    public void Identical_inputs_give_byte_identical_output()
    {
        var a = PlanScenarios.Generated(300);
        var b = PlanScenarios.Generated(300);
        Assert.Equal(TextPlanView.Render(a), TextPlanView.Render(b));
        Assert.Equal(MarkdownPlanView.Render(a), MarkdownPlanView.Render(b));
        Assert.Equal(JsonPlanView.Render(a), JsonPlanView.Render(b));
    }

    [Fact]
    public void Json_round_trips_to_an_identical_plan()
    {
        var json = JsonPlanView.Render(PlanScenarios.Showcase());
        var read = SavedPlanFile.Parse(json, "plan.json");
        Assert.Equal(json, JsonPlanView.Render(read));
    }

    [Fact]
    public void Json_of_another_format_version_is_refused()
    {
        var json = JsonPlanView.Render(PlanScenarios.Showcase()).Replace("\"formatVersion\": 1", "\"formatVersion\": 99", StringComparison.Ordinal);
        var e = Assert.Throws<ReconcilerException>(() => SavedPlanFile.Parse(json, "plan.json"));
        Assert.Contains("formatVersion 99", e.Message);
        var broken = Assert.Throws<ReconcilerException>(() => SavedPlanFile.Parse("{\"formatVersion\": 1, ", "plan.json"));
        Assert.StartsWith("plan.json:", broken.Message);
    }

    [Fact]
    public void Secrets_show_as_changed_references_only()
    {
        var plan = PlanScenarios.Showcase();
        foreach (var output in new[] { TextPlanView.Render(plan), MarkdownPlanView.Render(plan) })
            Assert.Contains("config.DB_PASSWORD: secret reference changed (secret env:API_DB_PASSWORD -> secret env:API_DB_PASSWORD_2026)", output);
    }

    [Fact]
    public void Colour_only_when_asked()
    {
        var plan = PlanScenarios.Showcase();
        Assert.DoesNotContain("\u001b[", TextPlanView.Render(plan));
        var coloured = TextPlanView.Render(plan, color: true);
        Assert.Contains("\u001b[32m+ web\u001b[0m", coloured);
        Assert.Equal(TextPlanView.Render(plan), System.Text.RegularExpressions.Regex.Replace(coloured, "\u001b\\[[0-9;]*m", ""));
    }

    [Fact]
    public void Control_characters_in_values_are_escaped()
    {
        var before = PlanScenarios.Desired([PlanScenarios.Svc("api", "1.0.0", "app", [], ("BANNER", "plain"))], []);
        var after = PlanScenarios.Desired([PlanScenarios.Svc("api", "1.0.0", "app", [], ("BANNER", "\u001b[2Jline1\nline2\t\"q\""))], []);
        var plan = Planner.Plan(after, PlanScenarios.Applied(before, 1), PlanOptions.Default);
        foreach (var output in new[] { TextPlanView.Render(plan), MarkdownPlanView.Render(plan) })
        {
            Assert.DoesNotContain("\u001b", output);
            Assert.Contains("config.BANNER: \"plain\" -> \"\\u001b[2Jline1\\nline2\\t\\\"q\\\"\"", output);
        }
    }

    [Fact]
    public void No_changes_is_said_plainly()
    {
        var desired = PlanScenarios.Desired([PlanScenarios.Svc("api", "1.0.0", "app", [])], []);
        var plan = Planner.Plan(desired, PlanScenarios.Applied(desired, 3), PlanOptions.Default);
        Assert.Contains("No changes.", TextPlanView.Render(plan));
        Assert.Contains("**No changes.**", MarkdownPlanView.Render(plan));
    }
}

public class PlanJsonSchemaTests
{
    private static string SchemaPath([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "../../../schemas/plan.schema.json"));

    [Fact]
    public async Task Json_plans_validate_against_the_published_schema()
    {
        var schema = await NJsonSchema.JsonSchema.FromFileAsync(SchemaPath());
        foreach (var plan in new[] { PlanScenarios.Showcase(), PlanScenarios.Repairs(), PlanScenarios.Generated(60) })
        {
            var errors = schema.Validate(JsonPlanView.Render(plan));
            Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => $"{e.Path}: {e.Kind}")));
        }
    }

    [Fact]
    public async Task The_schema_rejects_what_it_should()
    {
        var schema = await NJsonSchema.JsonSchema.FromFileAsync(SchemaPath());
        var json = JsonPlanView.Render(PlanScenarios.Showcase());
        Assert.NotEmpty(schema.Validate(json.Replace("\"formatVersion\": 1", "\"formatVersion\": 2", StringComparison.Ordinal)));
        Assert.NotEmpty(schema.Validate(json.Replace("\"action\": \"upgrade\"", "\"action\": \"upgraded\"", StringComparison.Ordinal)));
    }
}
