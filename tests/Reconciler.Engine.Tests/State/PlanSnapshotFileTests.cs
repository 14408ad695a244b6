using System.Globalization;
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
            // The head's diff is kept only when it ends at this head (it can then be the next preview's base diff).
            var changes = random.Next(3) switch
            {
                0 => null,
                var k => new ServiceChanges(Text(), k == 1 ? "tree" : "another tree",
                    Enumerable.Range(0, random.Next(0, 4)).Select(i => (Name: Text() + i, Blob: Text())).ToImmutableSortedDictionary(p => p.Name, p => p.Blob, StringComparer.Ordinal)),
            };
            Assert.True(PlanSnapshotFile.Save(path, new PlanSnapshot("inputs", "tree", Maybe(), plans, blobs, new Dictionary<string, string>()) { HeadChanges = changes }));

            var loaded = PlanSnapshotFile.Load(path);
            Assert.NotNull(loaded);
            Assert.Equal(Json(plans), Json(loaded.Plans));
            Assert.Equal(blobs, loaded.HeadBlobs);
            var kept = changes?.To == "tree" ? changes : null;
            Assert.Equal(kept is null, loaded.HeadChanges is null);
            if (kept is not null)
            {
                Assert.Equal((kept.From, kept.To), (loaded.HeadChanges!.From, loaded.HeadChanges.To));
                Assert.Equal(kept.Blobs, loaded.HeadChanges.Blobs);
            }
        }
    }

    /// <summary>Entries far larger than the writer's first guess (48 bytes each): its buffer grows several times within
    /// a plan's records, and the length each head gives for them must count every byte written before.</summary>
    [Fact]
    public void Plans_larger_than_the_writers_first_guess_round_trip()
    {
        ServiceChange Create(int i) => new($"svc-{i:D5}", ServiceAction.Create, $"new service {i}", null, "1.0.0", null, $"1.0.0-{i}", "group",
            [.. Enumerable.Range(0, 30).Select(f => new FieldChange($"config.KEY_{f}", FieldChangeKind.Added, null, $"value-{i}-{f}"))],
            [new HostChange($"host-{i % 7}", "eu", null, $"1.0.0-{i}")], 1)
        {
            Rollout = new Rollout("rolling", "25%", null, 1, 1, "5m", "rollback"),
        };
        ImmutableArray<Plan> plans = [.. new[] { "dev", "prod", "staging" }.Select((e, p) => new Plan(Plan.CurrentFormatVersion, e, "c0", null, 1,
            [.. Enumerable.Range(p * 1000, 2000).Select(Create)], [], []))];
        var path = Path.Combine(_directory, "large.snapshot");
        Assert.True(PlanSnapshotFile.Save(path, new PlanSnapshot("inputs", "tree", null, plans)));
        Assert.True(new FileInfo(path).Length > 4 * 48 * 6000, "the records outgrow the first guess");
        var loaded = PlanSnapshotFile.Load(path);
        Assert.NotNull(loaded);
        Assert.Equal(Json(plans), Json(loaded.Plans));
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

    /// <summary>Snapshots made from snapshots (the incremental plan's case): each carries the last one's table and
    /// copies the records of unchanged entries. Round after round, what is read back is exactly the plans saved,
    /// and the table is written in full again before the strings nothing refers to pile up.</summary>
    [Fact]
    public void A_snapshot_carried_over_from_the_last_reads_back_as_the_plans_saved()
    {
        var random = new Random(4242);
        ServiceChange NoOp(int i, string release) => new($"svc-{i:D4}", ServiceAction.NoOp, "up to date", "1.0." + (i % 7), "1.0." + (i % 7), release, release, $"group-{i % 5}", [], [], 0);
        ImmutableArray<Plan> plans = [.. new[] { "dev", "prod" }.Select(e => new Plan(Plan.CurrentFormatVersion, e, "c0", null, 1,
            [.. Enumerable.Range(0, 300).Select(i => NoOp(i, $"r{i}-0"))], [], []))];
        var path = Path.Combine(_directory, "carried.snapshot");
        Assert.True(PlanSnapshotFile.Save(path, new PlanSnapshot("inputs", "tree", null, plans)));
        var firstSize = new FileInfo(path).Length;
        var carriedRounds = 0;
        for (var round = 1; round <= 100; round++)
        {
            var loaded = PlanSnapshotFile.Load(path)!;
            Assert.Equal(Json(plans), Json(loaded.Plans));
            // Plan a few services again: some come out as the same no-op, some as an upgrade to a new release.
            // As an incremental plan does, every service with work in the snapshot is planned again too.
            var replanned = Enumerable.Range(0, 8).Select(_ => random.Next(300))
                .Concat(loaded.Plans.SelectMany(p => p.ServicesWithWork()).Select(s => int.Parse(s.Service["svc-".Length..], CultureInfo.InvariantCulture))).ToHashSet();
            var names = replanned.Select(i => $"svc-{i:D4}").ToHashSet(StringComparer.Ordinal);
            var merged = loaded.Plans.Select(old => IncrementalPlan.Merge(old, old with
            {
                Commit = $"c{round}",
                Services = [.. replanned.Order().Select(i => random.Next(2) == 0
                    ? NoOp(i, $"r{i}-0") with { FromRelease = old.Services.Single(s => s.Service == $"svc-{i:D4}").FromRelease, ToRelease = old.Services.Single(s => s.Service == $"svc-{i:D4}").ToRelease }
                    : NoOp(i, $"r{i}-{round}") with { Action = ServiceAction.Upgrade, Reason = $"release r{i}-{round}", Wave = 1 })
                    .OrderBy(s => s.Wave).ThenBy(s => s.Service, StringComparer.Ordinal)],   // in plan order, as the planner lists them
            }, new IncrementalPlan.Replanned(names))!).ToList();
            var kept = merged.Select(m => (Plan: m, Records: ((SnapshotEntries)m.Deferred()!).RecordsKept)).ToList();
            Assert.Contains(kept, k => k.Records < k.Plan.ServiceCount());   // some entries are written anew
            Assert.Contains(kept, k => k.Records > 250);
            plans = [.. merged];
            Assert.True(PlanSnapshotFile.Save(path, new PlanSnapshot("inputs", $"tree{round}", null, plans)));
            if (PlanSnapshotFile.Load(path)!.Encoded!.CompactCount == loaded.Encoded!.CompactCount) carriedRounds++;
            Assert.True(new FileInfo(path).Length < 4 * firstSize + 200_000, $"round {round}: {new FileInfo(path).Length} bytes");
        }
        Assert.Equal(Json(plans), Json(PlanSnapshotFile.Load(path)!.Plans));
        Assert.InRange(carriedRounds, 50, 99);   // mostly carried over, and written in full again at least once
    }
}
