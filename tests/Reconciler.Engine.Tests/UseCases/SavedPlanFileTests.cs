using System.Text.Json;
using Reconciler.Diff.Planning;
using Reconciler.Engine.Tests.Views;
using Reconciler.State;
using Reconciler.Testing;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.UseCases;

/// <summary>The saved-plan file (docs/plan-json.md): what `plan --out` writes and `apply --plan` reads.</summary>
public sealed class SavedPlanFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_saved_plan_is_the_plan_document_and_reads_back_to_the_same_plan()
    {
        var file = _dir.Combine("plan.json");
        foreach (var plan in new[] { PlanScenarios.Showcase(), PlanScenarios.Generated(200) })
        {
            SavedPlanFile.Save(file, plan);

            // The document is the plan in the product's dialect, one per file, with a final newline (the serializer's bytes).
            Assert.Equal(JsonSerializer.Serialize(plan, ReconcilerJson.Options) + "\n", File.ReadAllText(file));
            var read = SavedPlanFile.Read(file);
            Assert.Equal(JsonSerializer.Serialize(plan, ReconcilerJson.Options), JsonSerializer.Serialize(read, ReconcilerJson.Options));
        }
        Assert.Equal(["plan.json"], Directory.GetFiles(_dir.Path).Select(Path.GetFileName));   // no temporary file left behind
    }

    [Theory]
    [InlineData("{\"formatVersion\": 99}", "plan.json: plan formatVersion 99 is not supported (this reconciler reads 1)", "with this version.")]
    [InlineData("{\"environment\": \"prod\"}", "plan.json: not a saved plan (no formatVersion)", "`reconciler plan --out`.")]
    [InlineData("{\"formatVersion\": 1,\n  \"services\": ", "plan.json:2:", "`reconciler plan --out`.")]
    [InlineData("{\"formatVersion\": 1, \"services\": 7}", "plan.json:1:", "`reconciler plan --out`.")]
    public void A_file_that_is_not_a_saved_plan_is_invalid_input_with_its_place(string json, string start, string end)
    {
        var e = Assert.Throws<ReconcilerException>(() => SavedPlanFile.Parse(json, "plan.json"));

        Assert.Equal(FailureKind.InvalidInput, e.Kind);
        Assert.StartsWith(start, e.Message);
        Assert.EndsWith(end, e.Message);
    }

    [Fact]
    public void A_file_that_cannot_be_read_or_written_is_invalid_input()
    {
        var missing = Assert.Throws<ReconcilerException>(() => SavedPlanFile.Read(_dir.Combine("none.json")));
        Assert.Equal(FailureKind.InvalidInput, missing.Kind);
        Assert.StartsWith(_dir.Combine("none.json") + ": cannot read the saved plan: ", missing.Message);

        var unwritable = Assert.Throws<ReconcilerException>(() => SavedPlanFile.Save(_dir.Combine("no-dir", "plan.json"), PlanScenarios.Showcase()));
        Assert.Equal(FailureKind.InvalidInput, unwritable.Kind);
        Assert.Contains("cannot save the plan", unwritable.Message);
    }
}
