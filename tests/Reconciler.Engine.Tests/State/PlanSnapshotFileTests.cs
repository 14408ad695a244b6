using System.Collections.Immutable;
using System.Text.Json;
using Reconciler.Diff.Planning;
using Reconciler.State;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>The snapshot's codec (a string table, 7-bit numbers) on plans with every kind of value, and on damage:
/// a plan comes back as it went in, or the file reads as no snapshot.</summary>
public sealed class PlanSnapshotFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("plan-snapshot-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string Json(IEnumerable<Plan> plans) => string.Join("\n", plans.Select(p => JsonSerializer.Serialize(p, SavedPlanJsonContext.PlanInfo)));

    [Fact]
    public void Random_plans_round_trip()
    {
        var random = new Random(20261203);
        string[] pieces = ["svc-1", "1.2.3", "up to date", "\"", "\\", "\n", "é", "日本", "\U0001F680", "", new string('x', 300)];
        string Text() => string.Concat(Enumerable.Range(0, random.Next(0, 4)).Select(_ => pieces[random.Next(pieces.Length)]));
        string? Maybe() => random.Next(3) == 0 ? null : Text();
        T Pick<T>() where T : struct, Enum => Enum.GetValues<T>()[random.Next(Enum.GetValues<T>().Length)];
        bool? MaybeBool() => random.Next(3) switch { 0 => null, 1 => true, _ => false };
        int Number() => random.Next(4) switch { 0 => 0, 1 => random.Next(), 2 => -random.Next(1, 1000), _ => int.MaxValue };

        for (var round = 0; round < 40; round++)
        {
            var plans = Enumerable.Range(0, random.Next(1, 4)).Select(_ => new Plan(Plan.CurrentFormatVersion, Text(), Text(), Maybe(),
                random.Next(3) switch { 0 => -1, 1 => long.MaxValue, _ => random.NextInt64() },
                [.. Enumerable.Range(0, random.Next(0, 20)).Select(_ => new ServiceChange(Text(), Pick<ServiceAction>(), Text(), Maybe(), Maybe(), Maybe(), Maybe(), Text(),
                    [.. Enumerable.Range(0, random.Next(0, 3)).Select(_ => new FieldChange(Text(), Pick<FieldChangeKind>(), Maybe(), Maybe()))],
                    [.. Enumerable.Range(0, random.Next(0, 3)).Select(_ => new HostChange(Text(), Maybe(), Maybe(), Maybe()))], Number())
                {
                    Rollout = random.Next(2) == 0 ? null : new Rollout(Text(), Text(), random.Next(2) == 0 ? null : random.Next(0, 1000), Number(), Number(), Text(), Text()),
                })],
                [.. Enumerable.Range(0, random.Next(0, 4)).Select(_ => new ToggleChange(Text(), Pick<ToggleAction>(), MaybeBool(), MaybeBool(),
                    Enumerable.Range(0, random.Next(0, 3)).Select(k => (Key: Text() + k, Value: Text())).DistinctBy(p => p.Key)
                        .ToImmutableSortedDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal), Text(), Number()))],
                [.. Enumerable.Range(0, random.Next(0, 3)).Select(n => new PlanWave(Number(), Pick<WaveKind>(), [.. Enumerable.Range(0, random.Next(0, 3)).Select(_ => Text())], [Text()], []))]))
                .ToImmutableArray();
            var path = Path.Combine(_directory, $"{round}.snapshot");
            var blobs = new Dictionary<string, string> { [Text() + "a"] = Text() };
            Assert.True(PlanSnapshotFile.Save(path, new PlanSnapshot("inputs", "tree", Maybe(), plans, blobs, new Dictionary<string, string>())));

            var loaded = PlanSnapshotFile.Load(path);
            Assert.NotNull(loaded);
            Assert.Equal(Json(plans), Json(loaded.Plans));
            Assert.Equal(blobs, loaded.HeadBlobs);
        }
    }

    [Fact]
    public void A_file_cut_short_or_with_a_flipped_bit_is_no_snapshot()
    {
        var plan = new Plan(Plan.CurrentFormatVersion, "dev", "abc", null, 3,
            [new ServiceChange("api", ServiceAction.NoOp, "up to date", "1.0.0", "1.0.0", "r", "r", "app", [], [], 0)], [], []);
        var path = Path.Combine(_directory, "one.snapshot");
        Assert.True(PlanSnapshotFile.Save(path, new PlanSnapshot("inputs", "tree", null, [plan])));
        var bytes = File.ReadAllBytes(path);
        Assert.NotNull(PlanSnapshotFile.Load(path));
        for (var at = 0; at < bytes.Length; at++)
        {
            File.WriteAllBytes(path, bytes[..at]);
            Assert.Null(PlanSnapshotFile.Load(path));
            var flipped = (byte[])bytes.Clone();
            flipped[at] ^= 0x01;
            File.WriteAllBytes(path, flipped);
            Assert.Null(PlanSnapshotFile.Load(path));
        }
    }
}
