using System.Text.Json;
using System.Text.Json.Nodes;
using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.State;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.EndToEnd;

/// <summary>
/// Finding 5 of issue 11 on real sshd: a saved plan edited by hand (an action changed to `remove`, a host deleted, a
/// release changed) never acts: apply plans again from the file's commit at its live-state version and refuses
/// (invalid input) naming the first difference; every host keeps running what it ran and the store does not move.
/// The unedited file applies; a file whose store moved on is stale.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class EditedSavedPlanTests(FourHostFleet fixture) : IClassFixture<FourHostFleet>, IAsyncLifetime
{
    private readonly FleetWorld _world = new(fixture.Fleet);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _world.DisposeAsync();

    public static TheoryData<string, string> Edits() => new()
    {
        { "action", "plan.services[api].action: the file has \"remove\", the commit plans \"upgrade\"" },
        { "host", "plan.services[api].hosts[2]: the file has host web-4, the commit plans host web-3" },
        { "release", "plan.services[api].hosts[web-1].toRelease: the file has \"0.0.1-0000000000\"" },
    };

    [Theory]
    [MemberData(nameof(Edits))]
    public async Task An_edited_saved_plan_is_refused_naming_the_first_difference_and_changes_nothing(string edit, string difference)
    {
        var v1 = _world.Service("api", "1.0.0");
        await _world.SucceedsAsync(_world.Desired("c1", v1));
        var before = await _world.Store.ReadAsync(FleetWorld.Env, default);
        var desired = _world.Desired("c2", _world.Service("api", "1.1.0"));
        var file = _world.Combine("plan.json");
        SavedPlanFile.Save(file, ExecutorWiring.Plan(desired, before));

        var edited = SavedPlanFile.Parse(Edit(File.ReadAllText(file), edit), file);
        var refused = await Assert.ThrowsAsync<ReconcilerException>(() => _world.ApplyAsync(desired, edited));

        Assert.Equal(FailureKind.InvalidInput, refused.Kind);
        Assert.Contains(difference, refused.Message);
        Assert.Contains("nothing was changed", refused.Message);
        for (var i = 0; i < 4; i++)
            Assert.Equal($"releases/{ServiceFields.ReleaseId(v1)}", _world.Current(i, "api"));
        var after = await _world.Store.ReadAsync(FleetWorld.Env, default);
        Assert.Equal(before.Version, after.Version);
        Assert.Empty(await _world.Store.ReadOpenJournalAsync(FleetWorld.Env, default));

        // The file as written applies, and then (the store moved) it is stale.
        var outcome = await _world.ApplyAsync(desired, SavedPlanFile.Read(file));
        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        var stale = await Assert.ThrowsAsync<ReconcilerException>(() => _world.ApplyAsync(desired, SavedPlanFile.Read(file)));
        Assert.Equal(FailureKind.StaleOrConflict, stale.Kind);
    }

    private static string Edit(string json, string edit)
    {
        var plan = JsonNode.Parse(json)!;
        var api = plan["services"]!.AsArray().Single(s => (string?)s!["service"] == "api")!;
        switch (edit)
        {
            case "action":
                api["action"] = "remove";
                break;
            case "host":
                api["hosts"]!.AsArray().RemoveAt(2);
                break;
            case "release":
                api["hosts"]![0]!["toRelease"] = "0.0.1-0000000000";
                break;
        }
        return plan.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
