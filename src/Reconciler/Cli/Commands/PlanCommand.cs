using System.CommandLine;
using System.Diagnostics;
using System.Text;
using Reconciler.Diff.Planning;
using Reconciler.State;
using Reconciler.UseCases;
using Reconciler.Views;

namespace Reconciler.Cli;

/// <summary>`reconciler plan`: what apply would do, per environment, in order (docs/cli/plan.md).</summary>
internal static class PlanCommand
{
    public static Command Build()
    {
        var allEnvs = new Option<bool>("--all-envs") { Description = "Plan every environment." };
        var live = new Option<string?>("--live") { Description = "Live state of the environment as JSON (docs/plan-json.md) instead of the state store." };
        var baseRev = new Option<string?>("--base") { Description = "Plan relative to this commit instead of live state (PR previews)." };
        var outFile = new Option<string?>("--out") { Description = "Also save the plan as JSON to this file, for `reconciler apply --plan FILE`." };
        var detailed = new Option<bool>("--detailed-exitcode") { Description = "Exit 0 when there are no changes, 2 when there are, 1 on error." };
        var splitAt = new Option<int?>("--split-at") { Description = "Markdown only: split the plan into numbered parts of at most N characters each (e.g. 60000 for GitHub comments), every detail kept; needs --out-dir." };
        var outDir = new Option<string?>("--out-dir") { Description = "With --split-at: write the parts there as plan-part-01.md, ... and print their paths." };
        var full = new Option<bool>("--full") { Description = "Plan every service in full, not from the last plan's snapshot and the change since (docs/cli/plan.md)." };
        var verbose = new Option<bool>("--verbose") { Description = "Print load statistics (files, parse-cache hits) and timings to stderr." };
        var repairDrift = new Option<bool>("--repair-drift") { Description = "Ask the hosts first and show the repair of each host that drifted from the store (re-switch, re-stage, restart) with its reason, as `apply --repair-drift` would carry it out. One environment, against the store." };
        var sshKey = new Option<string?>("--ssh-key") { Description = "With --repair-drift: private key for the ssh driver. Default: $RECONCILER_SSH_KEY, else ~/.ssh/id_ed25519." };
        var trustUnknown = new Option<bool>("--trust-unknown-host-keys") { Description = "With --repair-drift: accept SSH hosts without a pinned hostKey (each is named in a warning)." };

        var cmd = new Command("plan", "Show what apply would change, in which order; exit 2 with --detailed-exitcode when there are changes.");
        var common = new CommonOptions(cmd);
        common.AddRepo("Infra repo directory (a Git work tree or a subdirectory of one).");
        common.AddRev("Plan this commit (SHA, branch, tag) read straight from Git. Default: the files on disk.");
        common.AddEnv(required: false, "Environment to plan. Default: the only environment, if there is exactly one.");
        cmd.Options.Add(allEnvs);
        cmd.Options.Add(live);
        common.AddState("State store to read live state from; default: $RECONCILER_STATE, then reconciler.yaml's state, then " + StateStores.DefaultRelativePath + ". " + StateStores.AcceptedForms);
        cmd.Options.Add(baseRev);
        common.AddFormat("text, markdown or json.", "text", "markdown", "json");
        foreach (var o in new Option[] { outFile, splitAt, outDir, detailed, full, verbose, repairDrift, sshKey, trustUnknown }) cmd.Options.Add(o);

        cmd.SetAction((parseResult, ct) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            var args = common.Read(parseResult);
            if (parseResult.GetValue(repairDrift))
                return CliRunner.RunAsync(stderr, () => RunWithRepairsAsync(args, parseResult.GetValue(sshKey), parseResult.GetValue(trustUnknown),
                    parseResult.GetValue(allEnvs), parseResult.GetValue(live), parseResult.GetValue(baseRev), parseResult.GetValue(outFile),
                    parseResult.GetValue(detailed), !CliApp.UseColor(parseResult, stdout), stdout, stderr, ct));
            return CliRunner.RunAsync(stderr, () => Task.FromResult(Run(new PlanArgs(
                args.Repo, args.Rev, args.Env, parseResult.GetValue(allEnvs),
                parseResult.GetValue(live), args.State, parseResult.GetValue(baseRev), args.Format, parseResult.GetValue(outFile),
                parseResult.GetValue(detailed), !CliApp.UseColor(parseResult, stdout), parseResult.GetValue(verbose))
            {
                SplitAt = parseResult.GetValue(splitAt),
                OutDir = parseResult.GetValue(outDir),
                Full = parseResult.GetValue(full),
            }, stdout, stderr, ct)));
        });
        return cmd;
    }

    internal sealed record PlanArgs(string Repo, string? Rev, string? Env, bool AllEnvs, string? Live, string? State, string? Base, string Format,
        string? Out, bool DetailedExitCode, bool NoColor, bool Verbose)
    {
        public int? SplitAt { get; init; }
        public string? OutDir { get; init; }
        public bool Full { get; init; }
    }

    internal static int Run(PlanArgs a, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (a.Env is not null && a.AllEnvs) throw new UserError("--env and --all-envs exclude each other; pass one.");
        if (a.Live is not null && a.State is not null) throw new UserError("--live and --state exclude each other: --live reads live state from a file instead of the store.");
        if (a.Live is not null && a.Base is not null) throw new UserError("--live and --base exclude each other: --base plans against another commit instead of live state.");
        if (a.AllEnvs && a.Live is not null) throw new UserError("--live holds the state of one environment; use it with --env.");
        if (a.AllEnvs && a.Out is not null) throw new UserError("--out saves the plan of one environment; use it with --env.");
        if ((a.SplitAt is null) != (a.OutDir is null)) throw new UserError("--split-at and --out-dir go together: --split-at N --out-dir DIR writes the Markdown plan in parts of at most N characters to DIR.");
        if (a.SplitAt is not null && a.Format != "markdown") throw new UserError("--split-at splits Markdown for pull-request comments; add --format markdown.");
        if (a.SplitAt is < 2000) throw new UserError($"--split-at {a.SplitAt} is too small for a part to hold the plan's summary; use at least 2000 (GitHub: 60000).");

        var total = Stopwatch.StartNew();
        // No collections for the first 256 MB: a plan keeps most of what it allocates (CollectionPause says why and what it saves).
        using var pause = CollectionPause.Start(256L << 20);
        var outcome = PlanUseCase.Run(new PlanRequest(a.Repo, a.Rev, a.Env, a.AllEnvs, a.Live, a.State, a.Base) { Incremental = !a.Full }, ct);
        if (a.Verbose) WriteLoadStatistics(outcome, stderr);
        if (outcome.InvalidRepo is { } invalid) stderr.Write(ValidateOutput.InvalidRepo(invalid, a.Repo, "nothing was planned"));
        if (outcome.Failure is { } failure) throw new ReconcilerException(failure.Kind, failure.Message);
        IReadOnlyList<Plan> plans = outcome.Plans;
        if (a.Verbose)
            foreach (var environment in outcome.Environments)
                stderr.WriteLine(Describe(environment));
        var rendering = Stopwatch.StartNew();
        var renderingCpu = CpuMs();

        var color = a.Format == "text" && !a.NoColor;
        if (a.Format == "json")
        {
            // UTF-8 straight to stdout (when it is the console) and to --out: no transcoding of tens of MB. Without
            // --out the document is streamed and never held whole in memory.
            var bytes = !ReferenceEquals(stdout, Console.Out) ? JsonPlanView.RenderUtf8(plans) : null;
            if (ReferenceEquals(stdout, Console.Out))
            {
                stdout.Flush();
                using var raw = new BufferedStream(Console.OpenStandardOutput(), 1 << 16);
                if (bytes is null) JsonPlanView.WriteUtf8(raw, plans);
                else raw.Write(bytes);
            }
            else stdout.Write(Encoding.UTF8.GetString(bytes!));
            if (a.Out is not null) SavePlan(a.Out, plans.Single(), stderr); // --out implies one environment: the same document
        }
        else if (a.SplitAt is { } splitAtChars)
        {
            WriteParts(MarkdownPlanView.RenderParts(plans, splitAtChars, outcome.Gates), a.OutDir!, stdout);
            if (a.Out is not null) SavePlan(a.Out, plans.Single(), stderr);
        }
        else
        {
            stdout.Write(Render(plans, outcome.Gates, a.Format, color));
            if (a.Out is not null) SavePlan(a.Out, plans.Single(), stderr);
        }
        if (a.Verbose)
            stderr.WriteLine($"planned {plans.Count} environment(s) in {Ms(outcome.Planning)} ms ({Ms(outcome.PlanningCpu)} ms CPU); " +
                             $"rendered and wrote in {rendering.ElapsedMilliseconds} ms ({CpuMs() - renderingCpu} ms CPU); " +
                             $"total {total.ElapsedMilliseconds} ms since the command started, {SinceProcessStart() - total.ElapsedMilliseconds} ms after the process ({CpuMs()} ms CPU since the process started); " +
                             $"garbage collections gen0/1/2 {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}, paused {GC.GetTotalPauseDuration().TotalMilliseconds:F0} ms");

        outcome.MemoWrites.GetAwaiter().GetResult();
        return a.DetailedExitCode && plans.Any(p => p.HasChanges) ? ExitCodes.Changes : ExitCodes.Ok;
    }

    /// <summary>`plan --repair-drift`: the plan `apply --repair-drift` would carry out, made the same way (the hosts are
    /// asked, then the store's state and their answers are planned together). Repairs follow what the hosts say now, so
    /// such a plan is not saved for `apply --plan`; a plan without the flag never reaches the hosts (a PR preview runs
    /// where they cannot be reached, and its cost follows the change, not the fleet).</summary>
    private static async Task<int> RunWithRepairsAsync(CommonArgs args, string? sshKey, bool trustUnknown, bool allEnvs, string? live, string? baseRev,
        string? outFile, bool detailedExitCode, bool noColor, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (allEnvs || live is not null || baseRev is not null)
            throw new UserError("--repair-drift plans one environment against the store and its hosts; drop --all-envs, --live and --base.");
        if (outFile is not null)
            throw new UserError("--repair-drift and --out exclude each other: repairs are planned from what the hosts say when you apply, so run `reconciler apply --repair-drift`.");
        var prepared = await ApplyEnvironment.PrepareAsync(new ApplyRequest(args.Repo, args.Rev, args.Env, null, args.State, false, null, null,
            sshKey, trustUnknown, $"{Environment.UserName}@{Environment.MachineName}", stderr, RepairDrift: true), TimeProvider.System, ct);
        if (!prepared.Succeeded) return ExitCodes.For(await CliRunner.FailAsync(stderr, prepared, args.Repo, "nothing was planned"));
        await using var apply = prepared.Value;
        var plans = new[] { apply.Plan };
        await stdout.WriteAsync(args.Format == "json" ? Encoding.UTF8.GetString(JsonPlanView.RenderUtf8(plans))
            : Render(plans, new Dictionary<string, EnvironmentGate>(), args.Format, color: args.Format == "text" && !noColor));
        return detailedExitCode && apply.Plan.HasChanges ? ExitCodes.Changes : ExitCodes.Ok;
    }

    private static long SinceProcessStart() => (long)(DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;

    private static long CpuMs() => (long)Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;

    private static long Ms(TimeSpan time) => (long)time.TotalMilliseconds;

    /// <summary>--verbose: each load of the repo and the parse-cache write, as they happened.</summary>
    private static void WriteLoadStatistics(PlanOutcome outcome, TextWriter stderr)
    {
        foreach (var load in outcome.Loads)
            stderr.WriteLine($"loaded {load.Stats.Files} files{load.Label}: {load.Stats.CacheHits} from the parse cache, {load.Stats.Parsed} parsed, in {Ms(load.Elapsed)} ms ({Ms(load.Cpu)} ms CPU)");
        if (outcome.ParseCacheWrite is { } written)
            stderr.WriteLine($"wrote {written.Entries} new parse-cache entr{(written.Entries == 1 ? "y" : "ies")} in {Ms(written.Elapsed)} ms");
    }

    /// <summary>--verbose: where one environment's planning time went.</summary>
    private static string Describe(EnvironmentPlanReport e)
    {
        var line = new StringBuilder(e.Environment).Append(':');
        if (e.StoreRead is { } read)
            line.Append($" read the live state ({read.Services} services, {read.MemoEntries} in the converged memo) from the state store in {Ms(read.Elapsed)} ms,");
        line.Append($" desired{(e.WithBase ? " and base" : "")} state in {Ms(e.Desired)} ms,");
        line.Append($" planner in {Ms(e.Planner)} ms");
        if (e.SettledByMemo is { } settled) line.Append($" ({settled} services settled by the memo)");
        return line.ToString();
    }

    /// <summary>Text or Markdown (JSON is written as UTF-8 by <see cref="Run"/>).</summary>
    private static string Render(IReadOnlyList<Plan> plans, IReadOnlyDictionary<string, EnvironmentGate> gates, string format, bool color) => format switch
    {
        // One PR comment for all environments: a table across them, then each in a share of the size limit.
        "markdown" => MarkdownPlanView.Render(plans, gates: gates),
        _ => string.Join("\n", plans.Select(p => TextPlanView.Render(p, color, gates.GetValueOrDefault(p.Environment)))),
    };

    /// <summary>The parts as plan-part-01.md, ... in <paramref name="directory"/> (parts of an earlier run removed
    /// first, so a script posting "every part" never posts a stale one); their paths on stdout, one a line.</summary>
    private static void WriteParts(IReadOnlyList<string> parts, string directory, TextWriter stdout)
    {
        Directory.CreateDirectory(directory);
        foreach (var stale in Directory.EnumerateFiles(directory, "plan-part-*.md")) File.Delete(stale);
        for (var i = 0; i < parts.Count; i++)
        {
            var path = Path.Combine(directory, $"plan-part-{i + 1:D2}.md");
            File.WriteAllText(path, parts[i], new UTF8Encoding(false));
            stdout.WriteLine(path);
        }
    }

    private static void SavePlan(string path, Plan plan, TextWriter stderr)
    {
        SavedPlanFile.Save(path, plan);
        stderr.WriteLine($"saved the plan to {path}; apply it with `reconciler apply --plan {path}`.");
    }
}
