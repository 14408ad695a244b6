using System.Collections.Immutable;
using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Views;

namespace Reconciler.Cli;

/// <summary>`reconciler plan`: what apply would do, per environment, in order (docs/cli/plan.md).</summary>
internal static class PlanCommand
{
    public static Command Build()
    {
        var repo = new Option<string>("--repo") { Description = "Infra repo directory (a Git work tree or a subdirectory of one).", DefaultValueFactory = _ => "." };
        var rev = new Option<string?>("--rev") { Description = "Plan this commit (SHA, branch, tag) read straight from Git. Default: the files on disk." };
        var env = new Option<string?>("--env") { Description = "Environment to plan. Default: the only environment, if there is exactly one." };
        var allEnvs = new Option<bool>("--all-envs") { Description = "Plan every environment." };
        var live = new Option<string?>("--live") { Description = "Live state of the environment as JSON (docs/plan-json.md) instead of the state store." };
        var state = new Option<string?>("--state") { Description = "State store to read live state from; default: $RECONCILER_STATE, then reconciler.yaml's state, then " + StateStores.DefaultRelativePath + ". " + StateStores.AcceptedForms };
        var baseRev = new Option<string?>("--base") { Description = "Plan relative to this commit instead of live state (PR previews)." };
        var format = new Option<string>("--format") { Description = "text, markdown or json.", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "markdown", "json");
        var outFile = new Option<string?>("--out") { Description = "Also save the plan as JSON to this file, for `reconciler apply --plan FILE`." };
        var detailed = new Option<bool>("--detailed-exitcode") { Description = "Exit 0 when there are no changes, 2 when there are, 1 on error." };
        var noColor = new Option<bool>("--no-color") { Description = "No colour in text output (also: NO_COLOR set, or output not a terminal)." };
        var verbose = new Option<bool>("--verbose") { Description = "Print load statistics (files, parse-cache hits) and timings to stderr." };

        var cmd = new Command("plan", "Show what apply would change, in which order; exit 2 with --detailed-exitcode when there are changes.");
        foreach (var o in new Option[] { repo, rev, env, allEnvs, live, state, baseRev, format, outFile, detailed, noColor, verbose }) cmd.Options.Add(o);

        cmd.SetAction((parseResult, ct) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            return CliRunner.RunAsync(stderr, () => Task.FromResult(Run(new PlanArgs(
                parseResult.GetValue(repo)!, parseResult.GetValue(rev), parseResult.GetValue(env), parseResult.GetValue(allEnvs),
                parseResult.GetValue(live), parseResult.GetValue(state), parseResult.GetValue(baseRev), parseResult.GetValue(format)!, parseResult.GetValue(outFile),
                parseResult.GetValue(detailed), parseResult.GetValue(noColor), parseResult.GetValue(verbose)), stdout, stderr, ct)));
        });
        return cmd;
    }

    internal sealed record PlanArgs(string Repo, string? Rev, string? Env, bool AllEnvs, string? Live, string? State, string? Base, string Format,
        string? Out, bool DetailedExitCode, bool NoColor, bool Verbose);

    internal static int Run(PlanArgs a, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (a.Env is not null && a.AllEnvs) throw new UserError("--env and --all-envs exclude each other; pass one.");
        if (a.Live is not null && a.State is not null) throw new UserError("--live and --state exclude each other: --live reads live state from a file instead of the store.");
        if (a.Live is not null && a.Base is not null) throw new UserError("--live and --base exclude each other: --base plans against another commit instead of live state.");
        if (a.AllEnvs && a.Live is not null) throw new UserError("--live holds the state of one environment; use it with --env.");
        if (a.AllEnvs && a.Out is not null) throw new UserError("--out saves the plan of one environment; use it with --env.");

        var total = Stopwatch.StartNew();
        using var pause = CollectionPause.Start(256L << 20);
        using var infra = InfraRepo.Open(a.Repo, a.Rev);
        var cache = new FileParseCache(FileParseCache.DefaultDirectory(infra.Directory));
        var model = Load(infra, cache, a, stderr, "");
        ct.ThrowIfCancellationRequested();

        string[] environments = a.AllEnvs ? [.. model.Environments.Keys]
            : a.Env is not null ? [a.Env]
            : model.Environments.Count == 1 ? [model.Environments.Keys.Single()]
            : throw new UserError(model.Environments.Count == 0
                ? "the repo defines no environments; add environments/NAME.yaml."
                : $"choose an environment with --env NAME (or --all-envs); the repo defines: {string.Join(", ", model.Environments.Keys)}.");

        RepoModel? baseModel = null;
        string? baseCommit = null;
        if (a.Base is not null)
        {
            using var baseRepo = InfraRepo.Open(a.Repo, a.Base);
            baseModel = Load(baseRepo, cache, a, stderr, $" (base {baseRepo.Describe()})");
            baseCommit = baseRepo.Source.Revision;
        }
        var flushing = Stopwatch.StartNew();
        var added = cache.Added;
        cache.Flush();
        if (a.Verbose && added > 0) stderr.WriteLine($"wrote {added} new parse-cache entr{(added == 1 ? "y" : "ies")} in {flushing.ElapsedMilliseconds} ms");

        var liveFromFile = a.Live is null ? null : ReadLive(a.Live);
        if (liveFromFile is not null && environments.Single() is var only && liveFromFile.Environment != only)
            throw new UserError($"{a.Live}: this live state is for environment '{liveFromFile.Environment}', not '{only}'; pass --env {liveFromFile.Environment} or the live state of '{only}'.");

        // Without --live or --base, plan against what the state store says is deployed (what apply will compare with).
        // Each environment reads its own live state as part of its planning, so one environment's read overlaps
        // another's planning (thousands of stored services take a while to read).
        using var liveStore = liveFromFile is null && baseModel is null
            ? LiveStoreReader.Open(StateStores.UrlFor(a.State, model.Repository.StateUrl), infra.Directory)
            : null;

        var planning = Stopwatch.StartNew();
        var planningCpu = CpuMs();
        var phases = new System.Collections.Concurrent.ConcurrentDictionary<string, string>();   // --verbose: where each environment's time went
        var memos = new System.Collections.Concurrent.ConcurrentDictionary<string, ConvergedMemo>();
        Plan PlanOne(string name)
        {
            ct.ThrowIfCancellationRequested();
            var phase = Stopwatch.StartNew();
            LiveState? fromStore = null;
            var timings = new StringBuilder(name).Append(':');
            ConvergedMemo? memo = null;
            if (liveStore is not null)
            {
                memo = liveStore.LoadMemo(infra.Directory, name);
                fromStore = liveStore.Read(name, memo, ct);
                timings.Append($" read the live state ({fromStore.Services.Count} services, {memo?.Known ?? 0} in the converged memo) from the state store in {phase.ElapsedMilliseconds} ms,");
            }
            phase.Restart();
            var desired = BuildDesired(model, name) with { Revision = infra.BoundRevision };
            var liveState = liveFromFile ?? fromStore ?? (baseModel is not null && baseModel.Environments.ContainsKey(name)
                ? LiveProjection.AsApplied(DesiredStateBuilder.Build(baseModel, name))
                : LiveState.Empty(name));
            timings.Append($" desired{(baseModel is null ? "" : " and base")} state in {phase.ElapsedMilliseconds} ms,");
            try
            {
                phase.Restart();
                var plan = Planner.Plan(desired, liveState, new PlanOptions(baseCommit, memo));
                timings.Append($" planner in {phase.ElapsedMilliseconds} ms");
                if (memo is not null)
                {
                    timings.Append($" ({memo.Hits} services settled by the memo)");
                    memos[name] = memo;
                }
                phases[name] = timings.ToString();
                return plan;
            }
            catch (PlanningException e)
            {
                throw new UserError($"cannot plan environment '{name}' at {infra.Describe()}: {e.Message}");
            }
        }
        // Environments are independent: all are planned at once, and the first failing one (in name order) is reported.
        (Plan? Plan, Exception? Error) Attempt(string name)
        {
            try { return (PlanOne(name), null); }
            catch (Exception e) { return (null, e); }   // rethrown as it is below, not wrapped
        }
        // All at once rather than one per core: each environment has sequential stretches (the store query, the desired
        // state, ordering waves) that another environment's work fills (3 on 2 cores: ~20 ms less wall for the
        // benchmark repo, docs/benchmarks/planner.md).
        var running = environments.Select(name => Task.Run(() => Attempt(name))).ToArray();
        var attempts = running.Select(t => t.GetAwaiter().GetResult()).ToList();
        if (attempts.FirstOrDefault(x => x.Error is not null).Error is { } failure)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        var plans = attempts.Select(x => x.Plan!).ToList();
        planning.Stop();
        planningCpu = CpuMs() - planningCpu;
        if (a.Verbose)
            foreach (var (_, line) in phases.OrderBy(r => r.Key, StringComparer.Ordinal))
                stderr.WriteLine(line);
        // Kept for the next plan while this one is rendered (best effort: a memo that is not written costs only time).
        var savingMemos = Task.Run(() =>
        {
            foreach (var (name, memo) in memos) liveStore!.SaveMemo(infra.Directory, name, memo);
        });
        var rendering = Stopwatch.StartNew();
        var renderingCpu = CpuMs();

        var color = a.Format == "text" && !a.NoColor && ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected
                    && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
        if (a.Format == "json")
        {
            // UTF-8 straight to stdout (when it is the console) and to --out: no transcoding of tens of MB. Without
            // --out the document is streamed and never held whole in memory.
            var bytes = a.Out is not null || !ReferenceEquals(stdout, Console.Out) ? JsonPlanView.RenderUtf8(plans) : null;
            if (ReferenceEquals(stdout, Console.Out))
            {
                stdout.Flush();
                using var raw = new BufferedStream(Console.OpenStandardOutput(), 1 << 16);
                if (bytes is null) JsonPlanView.WriteUtf8(raw, plans);
                else raw.Write(bytes);
            }
            else stdout.Write(Encoding.UTF8.GetString(bytes!));
            if (a.Out is not null) SavePlan(a.Out, bytes!, stderr); // --out implies one environment: the same document
        }
        else
        {
            stdout.Write(Render(plans, a.Format, color));
            if (a.Out is not null) SavePlan(a.Out, JsonPlanView.RenderUtf8(plans.Single()), stderr);
        }
        if (a.Verbose)
            stderr.WriteLine($"planned {plans.Count} environment(s) in {planning.ElapsedMilliseconds} ms ({planningCpu} ms CPU); " +
                             $"rendered and wrote in {rendering.ElapsedMilliseconds} ms ({CpuMs() - renderingCpu} ms CPU); " +
                             $"total {total.ElapsedMilliseconds} ms since the command started, {SinceProcessStart() - total.ElapsedMilliseconds} ms after the process ({CpuMs()} ms CPU since the process started); " +
                             $"garbage collections gen0/1/2 {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}, paused {GC.GetTotalPauseDuration().TotalMilliseconds:F0} ms");

        savingMemos.GetAwaiter().GetResult();
        return a.DetailedExitCode && plans.Any(p => p.HasChanges) ? ExitCodes.Changes : ExitCodes.Ok;
    }

    private static long SinceProcessStart() => (long)(DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;

    private static long CpuMs() => (long)Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;

    private static RepoModel Load(InfraRepo infra, FileParseCache cache, PlanArgs a, TextWriter stderr, string label)
    {
        var watch = Stopwatch.StartNew();
        var cpu = CpuMs();
        var result = RepoLoader.Load(infra.Source, cache, CoreParallelism.Load);
        if (a.Verbose)
            stderr.WriteLine($"loaded {result.Stats.Files} files{label}: {result.Stats.CacheHits} from the parse cache, {result.Stats.Parsed} parsed, in {watch.ElapsedMilliseconds} ms ({CpuMs() - cpu} ms CPU)");
        if (!result.HasErrors) return result.Model!;
        var prefix = a.Repo is "." or "./" ? "" : a.Repo.TrimEnd('/') + "/";
        var errors = result.Diagnostics.Count(d => d.Severity == Severity.Error);
        stderr.Write(ValidateOutput.Text(result.Diagnostics, prefix,
            $"{errors} error(s) in {infra.Describe()}{label}; nothing was planned."));
        throw new UserError($"the repo is not valid at {infra.Describe()}{label}; fix the errors above (`reconciler validate` lists them too).");
    }

    private static DesiredState BuildDesired(RepoModel model, string environment)
    {
        try
        {
            return DesiredStateBuilder.Build(model, environment);
        }
        catch (UnknownEnvironmentException e)
        {
            throw new UserError(e.Message + ".");
        }
    }

    /// <summary>Text or Markdown (JSON is written as UTF-8 by <see cref="Run"/>).</summary>
    private static string Render(IReadOnlyList<Plan> plans, string format, bool color) => format switch
    {
        // One PR comment for all environments: share the size limit between them.
        "markdown" => string.Join("\n", plans.Select(p => MarkdownPlanView.Render(p, MarkdownPlanView.DefaultLimit / plans.Count))),
        _ => string.Join("\n", plans.Select(p => TextPlanView.Render(p, color))),
    };

    /// <summary>Live state from the store, one environment at a time from any thread. A SQLite store that does not
    /// exist yet means nothing is deployed; it is not created by a plan.</summary>
    private sealed class LiveStoreReader : IDisposable
    {
        private readonly IStateStore? _store;

        private LiveStoreReader(IStateStore? store) => _store = store;

        public static LiveStoreReader Open(string? url, string repoRoot) =>
            new(StateStores.SqlitePath(url, repoRoot) is { } file && !File.Exists(file) ? null : StateStores.Open(url, repoRoot, TimeProvider.System));

        public LiveState Read(string environment, ConvergedMemo? memo, CancellationToken ct) =>
            _store is null ? LiveState.Empty(environment) : _store.ReadAsync(environment, memo, ct).GetAwaiter().GetResult();

        /// <summary>This environment's converged memo for this store (none without a store: nothing to remember).</summary>
        public ConvergedMemo? LoadMemo(string repoDirectory, string environment) =>
            _store is null ? null : ConvergedMemoFile.Load(ConvergedMemoFile.PathFor(repoDirectory, environment), _store.Describe);

        public void SaveMemo(string repoDirectory, string environment, ConvergedMemo memo)
        {
            if (_store is not null) ConvergedMemoFile.Save(ConvergedMemoFile.PathFor(repoDirectory, environment), _store.Describe, memo);
        }

        public void Dispose() => _store?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    internal static LiveState ReadLive(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{path}: cannot read the live state file: {e.Message}");
        }
        try
        {
            var state = JsonSerializer.Deserialize(json, PlanJsonContext.LiveStateInfo)
                        ?? throw new UserError($"{path}: the live state is null; expected an object as documented in docs/plan-json.md.");
            return CheckComplete(state, path);
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $":{line + 1}:{(e.BytePositionInLine ?? 0) + 1}" : "";
            var message = e.Message.Split(". Path:", 2)[0].Split(" LineNumber:", 2)[0].TrimEnd('.');
            throw new UserError($"{path}{where}: not a valid live state{(string.IsNullOrEmpty(e.Path) ? "" : $" at {e.Path}")}: {message}. Expected the shape in docs/plan-json.md (live state input).");
        }
    }

    /// <summary>System.Text.Json leaves absent constructor members null; name the first one missing instead of failing later.</summary>
    private static LiveState CheckComplete(LiveState s, string path)
    {
        string? missing =
            s.Environment is null ? "environment"
            : s.Services is null ? "services"
            : s.Toggles is null ? "toggles"
            : null;
        foreach (var (name, svc) in s.Services ?? ImmutableSortedDictionary<string, LiveService>.Empty)
        {
            if (missing is not null) break;
            missing = svc is null ? $"services.{name}"
                : svc.Name is null ? $"services.{name}.name"
                : svc.Version is null ? $"services.{name}.version"
                : svc.ReleaseId is null ? $"services.{name}.releaseId"
                : svc.ConfigHash is null ? $"services.{name}.configHash"
                : svc.Commit is null ? $"services.{name}.commit"
                : svc.DependsOn.IsDefault ? $"services.{name}.dependsOn"
                : svc.Fields is null ? $"services.{name}.fields"
                : svc.Hosts is null ? $"services.{name}.hosts"
                : svc.Hosts.FirstOrDefault(h => h.Value?.Host is null || h.Value.ActiveRelease is null) is { Key: { } bad } ? $"services.{name}.hosts.{bad} (host, activeRelease)"
                : svc.Name != name ? $"services.{name}.name (is '{svc.Name}', must equal its key)"
                : null;
        }
        foreach (var (name, t) in s.Toggles ?? ImmutableSortedDictionary<string, LiveToggle>.Empty)
            if (missing is null && (t?.Name is null || t.Commit is null)) missing = $"toggles.{name} (name, enabled, commit)";
        return missing is null ? s
            : throw new UserError($"{path}: not a valid live state: missing or wrong '{missing}'. Expected the shape in docs/plan-json.md (live state input).");
    }

    private static void SavePlan(string path, byte[] json, TextWriter stderr)
    {
        WriteAtomically(path, json);
        stderr.WriteLine($"saved the plan to {path}; apply it with `reconciler apply --plan {path}`.");
    }

    /// <summary>Write to a temporary file beside the target and rename it over, so a reader never sees half a plan.</summary>
    private static void WriteAtomically(string path, byte[] content)
    {
        var full = Path.GetFullPath(path);
        var temp = full + ".tmp-" + Environment.ProcessId;
        try
        {
            File.WriteAllBytes(temp, content);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new UserError($"{path}: cannot save the plan: {e.Message}");
        }
    }
}
