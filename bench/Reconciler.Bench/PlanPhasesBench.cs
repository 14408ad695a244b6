using System.Collections.Immutable;
using System.Diagnostics;
using System.Security.Cryptography;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Views;

namespace Reconciler.Bench;

/// <summary>
/// `plan-phases REPO [--iterations N] [--only creates|converged|one-upgrade]`: loads a repo's HEAD once through the library, then times the planner and
/// each view in-process, JIT warm, for three live states per environment: empty (every service a create),
/// converged (the projection of the desired state as applied: every service a no-op) and converged with one
/// service one version behind (one upgrade). Prints per phase the median wall and process-CPU milliseconds (CPU
/// counts both cores), the first (JIT-cold) run, what one run allocates, the bytes written and a SHA-256 of the
/// output, so that a change to the planner or the views can be checked for byte-identical output on a large repo.
/// docs/benchmarks/planner.md.
/// </summary>
public static class PlanPhasesBench
{
    public static int Run(string directory, int iterations, string? only = null)
    {
        var load = Stopwatch.StartNew();
        using var source = GitRepoSource.Open(directory, "HEAD");
        var result = RepoLoader.Load(source, new MemoryParseCache(), CoreParallelism.Load);
        if (result.HasErrors)
        {
            Console.Error.WriteLine($"{directory}: the repo has errors; run `reconciler validate`.");
            return 1;
        }
        var model = result.Model!;
        var environments = model.Environments.Keys.ToArray();
        Console.WriteLine($"loaded {result.Stats.Files} files in {load.ElapsedMilliseconds} ms; environments {string.Join(", ", environments)}; " +
                          $"{iterations} timed iterations per phase after one warm-up, median; {Environment.ProcessorCount} cores");

        DesiredState[] desired = [];
        Time("desired states (DesiredStateBuilder)", iterations, () =>
        {
            desired = [.. environments.Select(e => DesiredStateBuilder.Build(model, e) with { Revision = source.Revision })];
            return -1;
        });

        var scenarios = new (string Name, LiveState[] Live)[]
        {
            ("creates", [.. desired.Select(d => LiveState.Empty(d.Environment))]),
            ("converged", [.. desired.Select(d => LiveProjection.AsApplied(d, version: 7))]),
            ("one-upgrade", [.. desired.Select(d => OneBehind(LiveProjection.AsApplied(d, version: 7)))]),
        };
        foreach (var (name, live) in scenarios)
        {
            if (only is not null && only != name) continue;
            Plan[] plans = [];
            Time($"{name}: Planner.Plan x{desired.Length}", iterations, () =>
            {
                plans = [.. desired.Select((d, i) => Planner.Plan(d, live[i], PerCore))];
                return -1;
            });
            var counts = plans.SelectMany(p => p.Services).GroupBy(s => s.Action).OrderBy(g => g.Key)
                .Select(g => $"{g.Count()} {g.Key}");
            Console.WriteLine($"    {string.Join(", ", counts)}");
            if (name == "converged") TimeWithMemo(desired, live, iterations);

            Time($"{name}: JsonPlanView.RenderUtf8", iterations, () => plans.Sum(p => (long)JsonPlanView.RenderUtf8(p).Length),
                () => Hash(plans.Select(JsonPlanView.RenderUtf8)));
            Time($"{name}: JsonPlanView.RenderUtf8(plans)", iterations, () => JsonPlanView.RenderUtf8(plans).Length,
                () => Hash([JsonPlanView.RenderUtf8(plans)]));
            Time($"{name}: JsonPlanView.WriteUtf8(null, plans)", iterations, () =>
            {
                using var sink = new CountingStream();
                JsonPlanView.WriteUtf8(sink, plans);
                return sink.Length;
            });
            Time($"{name}: TextPlanView.Render", iterations, () => plans.Sum(p => (long)TextPlanView.Render(p).Length),
                () => Hash(plans.Select(p => System.Text.Encoding.UTF8.GetBytes(TextPlanView.Render(p)))));
            Time($"{name}: MarkdownPlanView.Render", iterations, () => plans.Sum(p => (long)MarkdownPlanView.Render(p).Length),
                () => Hash(plans.Select(p => System.Text.Encoding.UTF8.GetBytes(MarkdownPlanView.Render(p)))));
        }
        return 0;
    }

    /// <summary>As the CLI plans: one worker per core.</summary>
    private static readonly PlanOptions PerCore = new(MaxDegreeOfParallelism: CoreParallelism.Workers);

    /// <summary>The converged scenario as `plan` runs it the second time against a store: each live service marked as read
    /// from stored bytes (here: a digest of its name and release), and a memo holding what the first plan found. Timed:
    /// matching the memo (spec digests), the planner with the services it settles, and recording the next memo.</summary>
    private static void TimeWithMemo(DesiredState[] desired, LiveState[] live, int iterations)
    {
        var memos = new ConvergedMemo[desired.Length];
        var stored = new LiveState[desired.Length];
        for (var i = 0; i < desired.Length; i++)
        {
            var first = ConvergedMemo.Create();
            stored[i] = live[i] with
            {
                Services = live[i].Services.ToImmutableSortedDictionary(kv => kv.Key,
                    kv => kv.Value.FromStoredBytes(first.Digest(System.Text.Encoding.UTF8.GetBytes(kv.Key + kv.Value.ReleaseId))), StringComparer.Ordinal),
            };
            memos[i] = PlanWithMemo(first, desired[i], stored[i]);
        }
        Time($"converged, with the converged memo: Planner.Plan x{desired.Length}", iterations, () =>
        {
            for (var i = 0; i < desired.Length; i++) PlanWithMemo(memos[i], desired[i], stored[i]);
            return -1;
        });
    }

    /// <summary>What the plan use case does around the planner with a memo; returns the next memo.</summary>
    private static ConvergedMemo PlanWithMemo(ConvergedMemo memo, DesiredState desired, LiveState stored)
    {
        var match = ConvergedMemoMatch.Start(memo, desired, CoreParallelism.Workers);
        var plan = Planner.Plan(desired, stored, PerCore with { KnownConverged = match.KnownConverged(stored) });
        return match.Record(stored, plan);
    }

    /// <summary>The first service (by name) as if it still ran version 0.0.0: its live version and
    /// version field go back, so the planner sees one upgrade among no-ops.</summary>
    private static LiveState OneBehind(LiveState live)
    {
        var (name, service) = live.Services.First();
        var changed = service with { Version = "0.0.0", Fields = service.Fields.SetItem("version", "0.0.0") };
        return live with { Services = live.Services.SetItem(name, changed) };
    }

    /// <summary>One warm-up, then N timed runs; prints median wall and CPU ms. <paramref name="work"/> returns the
    /// bytes or characters written (-1: none).</summary>
    private static void Time(string label, int iterations, Func<long> work, Func<string>? digest = null)
    {
        var process = Process.GetCurrentProcess();
        var firstCpu = process.TotalProcessorTime;
        var first = Stopwatch.StartNew();
        var size = work();
        first.Stop();
        process.Refresh();
        var firstMs = (first.Elapsed.TotalMilliseconds, (process.TotalProcessorTime - firstCpu).TotalMilliseconds);
        var wall = new List<double>();
        var cpu = new List<double>();
        long allocated = 0;
        var collections = 0;
        for (var i = 0; i < iterations; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var bytes0 = GC.GetTotalAllocatedBytes(precise: true);
            var gcs0 = GC.CollectionCount(0);
            var sw = Stopwatch.StartNew();
            work();
            sw.Stop();
            allocated = GC.GetTotalAllocatedBytes(precise: true) - bytes0;
            collections = GC.CollectionCount(0) - gcs0;
            process.Refresh();
            wall.Add(sw.Elapsed.TotalMilliseconds);
            cpu.Add((process.TotalProcessorTime - cpu0).TotalMilliseconds);
        }
        var written = size < 0 ? "" : $", {size:N0} bytes/chars";
        Console.WriteLine($"  {label,-40} {Median(wall),7:F1} ms wall {Median(cpu),7:F1} ms CPU (first run {firstMs.Item1:F0} / {firstMs.Item2:F0}); " +
                          $"{allocated / 1e6:F1} MB allocated, {collections} GCs{written}{(digest is null ? "" : $", sha256 {digest()}")}");
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[values.Count / 2 - 1] + values[values.Count / 2]) / 2;
    }

    private static string Hash(IEnumerable<byte[]> outputs)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var o in outputs) sha.AppendData(o);
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    /// <summary>Counts what is written and keeps none of it (Stream.Null does not count).</summary>
    private sealed class CountingStream : Stream
    {
        private long _length;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Write(byte[] buffer, int offset, int count) => _length += count;
        public override void Write(ReadOnlySpan<byte> buffer) => _length += buffer.Length;
        public override void WriteByte(byte value) => _length++;
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
