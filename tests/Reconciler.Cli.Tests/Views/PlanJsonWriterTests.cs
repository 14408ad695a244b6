using System.Collections.Immutable;
using System.Text.Json;
using Reconciler.Diff.Planning;
using Reconciler.State;
using Reconciler.UseCases;
using Reconciler.Views;
using Xunit;

namespace Reconciler.Cli.Tests.Views;

/// <summary>The hand-written plan writer must produce the serializer's bytes, or saved plans and PR tooling would see
/// a different document depending on the code path.</summary>
public class PlanJsonWriterTests
{
    private static string BySerializer(Plan plan) => JsonSerializer.Serialize(plan, SavedPlanJsonContext.PlanInfo) + "\n";

    private static string ByWriter(Plan plan) => JsonPlanView.Render(plan);

    [Fact]
    public void Writes_the_serializers_bytes_for_the_showcase_and_generated_plans()
    {
        var catalog = PlanScenarios.PerHostConfig() with { Catalog = [new CatalogBinding("edge", "edge-node", 42, [new CatalogMember("edge-eu-1", "10.0.0.1", 2222)])] };
        foreach (var plan in new[] { PlanScenarios.Showcase(), PlanScenarios.Repairs(), PlanScenarios.Generated(60), PlanScenarios.Generated(400), PlanScenarios.PerHostConfig(), catalog })
            Assert.Equal(BySerializer(plan), ByWriter(plan));
    }

    [Fact]
    public void Writes_the_serializers_bytes_for_random_plans_with_awkward_strings()
    {
        var random = new Random(20261122);
        string[] pieces = ["a", "svc-1", "\"", "\\", "\n", "\t", "\u0001", "<", ">", "&", "'", "+", "é", "日本", "\U0001F680", "\u2028", "${x}", " ", "", "/"];
        string Text() => string.Concat(Enumerable.Range(0, random.Next(0, 6)).Select(_ => pieces[random.Next(pieces.Length)]));
        string? Maybe() => random.Next(3) == 0 ? null : Text();
        T Pick<T>() where T : struct, Enum => Enum.GetValues<T>()[random.Next(Enum.GetValues<T>().Length)];
        bool? MaybeBool() => random.Next(3) switch { 0 => null, 1 => true, _ => false };

        for (var i = 0; i < 300; i++)
        {
            var services = Enumerable.Range(0, random.Next(0, 5)).Select(_ => new ServiceChange(Text(), Pick<ServiceAction>(), Text(),
                Maybe(), Maybe(), Maybe(), Maybe(), Text(),
                [.. Enumerable.Range(0, random.Next(0, 3)).Select(_ => new FieldChange(Text(), Pick<FieldChangeKind>(), Maybe(), Maybe()))],
                [.. Enumerable.Range(0, random.Next(0, 3)).Select(_ => new HostChange(Text(), Maybe(), Maybe(), Maybe()))],
                random.Next(0, 1000))).ToImmutableArray();
            var toggles = Enumerable.Range(0, random.Next(0, 3)).Select(_ => new ToggleChange(Text(), Pick<ToggleAction>(), MaybeBool(), MaybeBool(),
                Enumerable.Range(0, random.Next(0, 3)).Select(k => (Key: Text() + k, Value: Text())).DistinctBy(p => p.Key)
                    .ToImmutableSortedDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal),
                Text(), random.Next(0, 10))).ToImmutableArray();
            var waves = Enumerable.Range(0, random.Next(0, 3)).Select(n => new PlanWave(n, Pick<WaveKind>(),
                [.. Enumerable.Range(0, random.Next(0, 3)).Select(_ => Text())], [Text()], [])).ToImmutableArray();
            var plan = new Plan(Plan.CurrentFormatVersion, Text(), Text(), Maybe(), random.NextInt64(-1, long.MaxValue), services, toggles, waves);

            Assert.Equal(BySerializer(plan), ByWriter(plan));
        }
    }

    /// <summary>Plans of mostly no-ops, with strings the fast path must write as they are and strings it must leave to
    /// the writer.</summary>
    private static IEnumerable<Plan> MostlyNoOps(Random random, int count)
    {
        // (One of 200 bytes: a snapshot's table gives it a two-byte length, which its reading takes another way.)
        string[] plain = ["svc-0001", "1.2.3", "1.2.3-6e4ec0c1ca", "up to date", "group-01", "<a&b>", "'quoted'", "é", "日本", "", new string('x', 200)];
        // What the encoder escapes (an astral character too), and a lone surrogate, which the writer refuses.
        string[] awkward = ["\U0001F680", "\"", "\\", "\n", "\t", "\u0001", "\u2028", "\u007f", "\ud800"];
        string Text() => string.Concat(Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(40) == 0 ? awkward[random.Next(awkward.Length)] : plain[random.Next(plain.Length)]));
        string? Maybe() => random.Next(4) == 0 ? null : Text();
        var mixed = PlanScenarios.Generated(7).Services;
        // Reasons and host groups from a few instances, and versions and releases the same instance before and after
        // (as in a plan read from a snapshot), which the fast path copies rather than encodes again.
        string[] reasons = [.. Enumerable.Range(0, 12).Select(_ => Text())];
        ServiceChange NoOp()
        {
            var (version, release) = (Maybe(), Maybe());
            return random.Next(2) == 0
                ? new ServiceChange(Text(), ServiceAction.NoOp, Text(), Maybe(), Maybe(), Maybe(), Maybe(), Text(), [], [], random.Next(0, 100_000))
                : new ServiceChange(Text(), ServiceAction.NoOp, reasons[random.Next(reasons.Length)], version, version, release, release,
                    reasons[random.Next(reasons.Length)], [], [], random.Next(0, 100_000));
        }
        for (var i = 0; i < count; i++)
        {
            var services = Enumerable.Range(0, random.Next(0, 30)).Select(n => random.Next(10) == 0
                ? mixed[random.Next(mixed.Length)] with { Service = Text() }
                : NoOp()).ToImmutableArray();
            yield return new Plan(Plan.CurrentFormatVersion, "dev", "abc", null, 7, services, [], []);
        }
    }

    /// <summary>The no-op fast path (<see cref="NoOpEntryJson"/>) against the writer's slow path and the serializer.</summary>
    [Fact]
    public void The_no_op_fast_path_writes_the_writers_bytes()
    {
        var taken = 0;
        foreach (var plan in MostlyNoOps(new Random(20261203), 200))
        {
            string slow;
            try
            {
                slow = Written(plan, fastPath: false);
            }
            catch (ArgumentException)
            {
                // A lone surrogate: the writer refuses it, and so must the fast path (it leaves the entry to the writer).
                Assert.ThrowsAny<ArgumentException>(() => Written(plan, fastPath: true));
                continue;
            }
            Assert.Equal(slow, Written(plan, fastPath: true));
            Assert.Equal(BySerializer(plan), ByWriter(plan));
            taken += plan.Services.Count(s => s.Action == ServiceAction.NoOp && TakesFastPath(s));
        }
        Assert.True(taken > 1000, $"only {taken} entries took the fast path");
    }

    /// <summary>Plans read back from a snapshot keep their no-ops as records (<see cref="SnapshotEntries"/>), and the
    /// writer writes those straight from the records' UTF-8: the same bytes as the serializer writes for the plans saved.</summary>
    [Fact]
    public void No_ops_read_back_from_a_snapshot_are_written_from_their_records_as_the_serializer_writes_them()
    {
        var directory = Directory.CreateTempSubdirectory("reconciler-json-records-");
        try
        {
            var taken = 0;
            var plans = MostlyNoOps(new Random(20261204), 200).ToList();
            // A lone surrogate does not survive UTF-8 (the snapshot's, or the JSON's): the other plans are the case here.
            foreach (var plan in plans.Where(p => !BySerializer(p).Contains("\\uFFFD", StringComparison.Ordinal)))
            {
                var path = Path.Combine(directory.FullName, "plans.snapshot");
                Assert.True(PlanSnapshotFile.Save(path, new PlanSnapshot("inputs", "tree", null, [plan])));
                var loaded = Assert.Single(PlanSnapshotFile.Load(path)!.Plans);
                var records = Assert.IsType<SnapshotEntries>(loaded.Deferred());
                Assert.Equal(BySerializer(plan), ByWriter(loaded));
                using var buffer = new MemoryStream();
                using var w = new Utf8JsonWriter(buffer, PlanJsonWriter.Options);
                w.WriteStartObject();
                w.WriteStartArray("services");
                var json = new NoOpEntryJson();
                foreach (var e in records.Entries())
                    if (e.Listed is null && json.TryWrite(w, records.From.Strings, e.Record)) taken++;
            }
            Assert.True(taken > 1000, $"only {taken} entries were written from their records");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_no_op_fast_path_declines_what_the_writer_must_escape_and_writes_nothing()
    {
        var entry = new ServiceChange("svc", ServiceAction.NoOp, "up to date", "1.0.0", "1.0.0", "1.0.0-a", "1.0.0-a", "g", [], [], 0);
        Assert.True(TakesFastPath(entry));
        Assert.False(TakesFastPath(entry with { Reason = "say \"hi\"" }));
        Assert.False(TakesFastPath(entry with { HostGroup = "line\nbreak" }));
        Assert.False(TakesFastPath(entry with { ToRelease = "\ud800" }));
        Assert.False(TakesFastPath(entry with { Action = ServiceAction.Upgrade }));
        Assert.False(TakesFastPath(entry with { Hosts = [new HostChange("h", null, null, null)] }));
        Assert.False(TakesFastPath(entry with { Rollout = new Rollout("rolling", "1", null, 1, 1, "1m", "rollback") }));
    }

    private static bool TakesFastPath(ServiceChange entry)
    {
        using var buffer = new MemoryStream();
        using var w = new Utf8JsonWriter(buffer, PlanJsonWriter.Options);
        w.WriteStartObject();
        w.WriteStartArray("services");
        Assert.True(NoOpEntryJson.Fits(w));
        var before = w.BytesPending;
        var taken = new NoOpEntryJson().TryWrite(w, entry);
        if (!taken) Assert.Equal(before, w.BytesPending);
        return taken;
    }

    private static string Written(Plan plan, bool fastPath)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, PlanJsonWriter.Options)) PlanJsonWriter.Write(w, plan, fastPath);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
