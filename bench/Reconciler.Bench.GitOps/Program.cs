// Commit -> apply-start latency of `reconciler run` (docs/benchmarks/gitops.md).
//
// A real origin repository (a copy of examples/infra-repo: 6 services, 2 environments) gets a new commit changing one
// config value; the daemon follows it through a file:// remote (bare mirror + fetch, the same code path as an https
// remote) and loads, validates and resolves the desired state of the new head with the real loader (parse cache in
// memory, as in `reconciler run`). "Apply start" is the moment the daemon
// hands the loaded commit to IReconciler (the recording reconciler below returns at once, so a run measures the
// GitOps loop itself, not host work). Two modes:
//   webhook:  interval 10 min; after each commit a signed POST /hooks/git is sent; latency = commit written -> apply start.
//   interval: interval 1 s, no webhook; commits land at arbitrary phases of the timer; latency = commit written -> apply start.
// Not BenchmarkDotNet: this is an end-to-end latency of a long-running loop with its own timer, measured N times.
// Usage: dotnet run -c Release --project bench/Reconciler.Bench.GitOps -- [samples=15]
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using LibGit2Sharp;
using Reconciler.Daemon;
using Reconciler.Execution;
using Reconciler.Git;
using Reconciler.State;

var samples = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 15;
var root = Directory.CreateTempSubdirectory("reconciler-bench-gitops-").FullName;
try
{
    var webhook = await Measure(root, "webhook", samples, useWebhook: true, interval: TimeSpan.FromMinutes(10));
    var interval = await Measure(root, "interval-1s", samples, useWebhook: false, interval: TimeSpan.FromSeconds(1));
    Console.WriteLine();
    Console.WriteLine("| mode | samples | median | p90 | max |");
    Console.WriteLine("|---|---|---|---|---|");
    foreach (var (name, values) in new[] { ("webhook", webhook), ("interval 1 s", interval) })
    {
        var sorted = values.Order().ToArray();
        Console.WriteLine($"| {name} | {sorted.Length} | {Ms(Percentile(sorted, 0.5))} | {Ms(Percentile(sorted, 0.9))} | {Ms(sorted[^1])} |");
    }
}
finally
{
    Directory.Delete(root, recursive: true);
}

static string Ms(double ms) => $"{ms:0} ms";

static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

static async Task<double[]> Measure(string root, string name, int samples, bool useWebhook, TimeSpan interval)
{
    var originPath = Path.Combine(root, name, "origin");
    CopyExampleRepo(originPath);
    Repository.Init(originPath);
    using var origin = new Repository(originPath);
    origin.Refs.UpdateTarget("HEAD", "refs/heads/main");
    var apiYaml = Path.Combine(originPath, "services", "api.yaml");
    var apiText = File.ReadAllText(apiYaml);
    var counter = 0;
    Commit CommitNext()
    {
        // One config value of one service changes per commit, as in a typical PR.
        counter++;
        File.WriteAllText(apiYaml, apiText.Replace("LOG_LEVEL: info", $"LOG_LEVEL: info-{counter}", StringComparison.Ordinal));
        Commands.Stage(origin, "*");
        var sig = new Signature("Bench", "bench@example.com", DateTimeOffset.Now);
        return origin.Commit($"api log level {counter}", sig, sig);
    }
    CommitNext();

    var starts = new ConcurrentDictionary<string, long>();
    var reconciler = new RecordingReconciler(starts);
    var follower = new GitFollower(new Uri(originPath).AbsoluteUri, "main", Path.Combine(root, name, "state"));
    const string secret = "bench-secret";
    var cache = new Reconciler.Schema.Loading.MemoryParseCache();
    var daemon = new GitOpsDaemon(new DaemonOptions("staging", interval, "bench@localhost"), follower, new GitDesiredStateLoader(cache),
        reconciler, store: null, TimeProvider.System, TextWriter.Null);
    using var stop = new CancellationTokenSource();
    var loop = daemon.RunAsync(stop.Token);
    await using var http = await DaemonHttp.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), daemon, secret, CancellationToken.None);
    using var client = new HttpClient();
    await WaitFor(() => starts.Count == 1, TimeSpan.FromSeconds(30));

    var latencies = new List<double>();
    var random = new Random(42);
    for (var i = 0; i < samples; i++)
    {
        if (!useWebhook) await Task.Delay(random.Next(0, 1000));    // land at a random phase of the 1 s timer
        var written = Stopwatch.GetTimestamp();
        var commit = CommitNext();
        if (useWebhook)
        {
            var body = Encoding.UTF8.GetBytes($$"""{"ref":"refs/heads/main","after":"{{commit.Sha}}"}""");
            using var content = new ByteArrayContent(body);
            content.Headers.Add(DaemonHttp.SignatureHeader, DaemonHttp.Sign(secret, body));
            using var response = await client.PostAsync(new Uri(http.Address, "/hooks/git"), content);
            response.EnsureSuccessStatusCode();
        }
        await WaitFor(() => starts.ContainsKey(commit.Sha), TimeSpan.FromSeconds(30));
        var ms = Stopwatch.GetElapsedTime(written, starts[commit.Sha]).TotalMilliseconds;
        latencies.Add(ms);
        Console.WriteLine($"{name} #{i + 1}: {ms:0.0} ms");
    }
    await stop.CancelAsync();
    await loop;
    return [.. latencies];
}

static void CopyExampleRepo(string to)
{
    var from = FindExample();
    foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
    {
        var relative = Path.GetRelativePath(from, file);
        if (relative.StartsWith(".reconciler", StringComparison.Ordinal)) continue;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(to, relative))!);
        File.Copy(file, Path.Combine(to, relative));
    }
}

static string FindExample()
{
    for (var dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        if (File.Exists(Path.Combine(dir, "Reconciler.sln"))) return Path.Combine(dir, "examples", "infra-repo");
    throw new InvalidOperationException("run from inside the Reconciler repository (examples/infra-repo is the bench's repo)");
}

static async Task WaitFor(Func<bool> condition, TimeSpan timeout)
{
    var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
    while (!condition())
    {
        if (Stopwatch.GetTimestamp() > deadline) throw new TimeoutException("the daemon did not start the apply in time");
        await Task.Delay(1);
    }
}

/// <summary>Records when the daemon hands a commit over; the apply itself is not the subject of this benchmark.</summary>
sealed class RecordingReconciler(ConcurrentDictionary<string, long> starts) : IReconciler
{
    public Task<ReconcileOutcome> ReconcileAsync(ReconcileRequest request, IProgress<ApplyProgress>? progress, CancellationToken ct)
    {
        starts.TryAdd(request.Desired.Revision, Stopwatch.GetTimestamp());
        return Task.FromResult(new ReconcileOutcome(ApplyResult.Succeeded, null, "recorded", 0));
    }
}

