using System.Collections.Immutable;
using System.Text.Json;
using Reconciler.Diff.Planning;
using Reconciler.State;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.UseCases;

/// <summary>The merge of a snapshot's records with the entries planned again (<see cref="IncrementalPlan.Merge"/>), on
/// names the schema's pattern never gives a service (non-ASCII, and prefixes of one another): the merge compares them
/// as bytes when a new entry's name is ASCII and as text otherwise, and must place every entry in the planner's order
/// (wave, then ordinal name), as a full plan would.</summary>
public sealed class IncrementalMergeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("incremental-merge-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static ServiceChange NoOp(string name) =>
        new(name, ServiceAction.NoOp, "up to date", "1.0.0", "1.0.0", "1.0.0-a", "1.0.0-a", "group", [], [], 0);

    private static ServiceChange Upgrade(string name, int wave) =>
        new(name, ServiceAction.Upgrade, "new version", "1.0.0", "1.1.0", "1.0.0-a", "1.1.0-b", "group", [], [], wave);

    private static int PlannerOrder(ServiceChange a, ServiceChange b) =>
        a.Wave != b.Wave ? a.Wave.CompareTo(b.Wave) : string.CompareOrdinal(a.Service, b.Service);

    private static Plan PlanOf(IEnumerable<ServiceChange> entries) =>
        new(Plan.CurrentFormatVersion, "prod", "c0ffee", null, 7, [.. entries.Order(Comparer<ServiceChange>.Create(PlannerOrder))], [], []);

    [Fact]
    public void Entries_planned_again_land_where_the_full_plan_puts_them_whatever_their_names()
    {
        string[] pieces = ["a", "b", "z", "é", "ö", "日本", "\U0001F680", "ß", "-", "0", "ā"];
        var random = new Random(20261204);
        for (var round = 0; round < 60; round++)
        {
            var names = Enumerable.Range(0, random.Next(1, 40))
                .Select(_ => string.Concat(Enumerable.Range(0, random.Next(1, 4)).Select(_ => pieces[random.Next(pieces.Length)])))
                .Distinct().ToList();
            var snapshotPath = Path.Combine(_directory, $"{round}.snapshot");
            Assert.True(PlanSnapshotFile.Save(snapshotPath, new PlanSnapshot("inputs", "tree", null, [PlanOf(names.Select(NoOp))])));
            var old = Assert.Single(PlanSnapshotFile.Load(snapshotPath)!.Plans);

            // Some services planned again (to work, or to the same no-op), some new ones; the rest carried over.
            var again = names.Where(_ => random.Next(3) == 0).ToList();
            var added = Enumerable.Range(0, random.Next(0, 4)).Select(i => pieces[random.Next(pieces.Length)] + "+" + i).ToList();
            var fresh = again.Concat(added).Select(n => random.Next(3) switch { 0 => NoOp(n), var w => Upgrade(n, w - 1) }).ToList();
            var part = PlanOf(fresh);

            var merged = IncrementalPlan.Merge(old, part, new IncrementalPlan.Replanned([.. again.Concat(added)]));

            Assert.NotNull(merged);
            var expected = PlanOf(names.Except(again).Select(NoOp).Concat(fresh));
            Assert.Equal(JsonSerializer.Serialize(expected.Services), JsonSerializer.Serialize(merged.Services));
            Assert.Equal(expected.Services.Length, merged.ServiceCount());
        }
    }
}
