using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Reconciler.Diff.Live;
using Reconciler.State;

namespace Reconciler.Cli;

/// <summary><c>reconciler state show|history|lock|unlock|freeze|unfreeze --env ENV</c>: read and manage live state. docs/cli/state.md.</summary>
internal static class StateCommand
{
    public static Command Build()
    {
        var cmd = new Command("state", "Show live state and history; lock, unlock, freeze or unfreeze an environment.");
        cmd.Subcommands.Add(Show());
        cmd.Subcommands.Add(History());
        cmd.Subcommands.Add(Lock());
        cmd.Subcommands.Add(Unlock());
        cmd.Subcommands.Add(Freeze());
        cmd.Subcommands.Add(Unfreeze());
        return cmd;
    }

    /// <summary>Options every state subcommand takes.</summary>
    private sealed class Common
    {
        public readonly Option<string> Env = new("--env") { Description = "Environment name (as in environments/*.yaml).", Required = true };
        public readonly Option<string?> State = new("--state")
        {
            Description = "State store: sqlite:PATH, consul://HOST:PORT/PREFIX, consuls://... (TLS). Default: $RECONCILER_STATE, else state: in reconciler.yaml, else sqlite:.reconciler/state.db in the repo.",
        };
        public readonly Option<string> Repo = new("--repo") { Description = "Repository root (where the default SQLite store lives).", DefaultValueFactory = _ => "." };
        public readonly Option<string> Format = new("--format") { Description = "Output format: text or json.", DefaultValueFactory = _ => "text" };

        public void AddTo(Command c)
        {
            c.Options.Add(Env);
            c.Options.Add(State);
            c.Options.Add(Repo);
            c.Options.Add(Format);
            Format.AcceptOnlyFromAmong("text", "json");
        }

        public IStateStore OpenStore(ParseResult p)
        {
            var repo = Path.GetFullPath(p.GetValue(Repo)!);
            return StateStores.Open(StateStores.ResolveUrl(p.GetValue(State), repo), repo, TimeProvider.System);
        }

        public string EnvName(ParseResult p)
        {
            var env = p.GetValue(Env)!;
            StateNames.Check("environment", env);
            return env;
        }

        public bool Json(ParseResult p) => p.GetValue(Format) == "json";
    }

    private static Command Show()
    {
        var c = new Command("show", "Show an environment's live state: version, services, toggles, lock, freeze, quarantined commits.");
        var common = new Common();
        common.AddTo(c);
        c.SetAction((p, ct) => CliRunner.RunAsync(p.InvocationConfiguration.Error, async () =>
        {
            var env = common.EnvName(p);
            await using var store = common.OpenStore(p);
            var live = await store.ReadAsync(env, ct);
            var view = new StateView(env, store.Describe, live.Version, live.LastGoodCommit,
                await store.ReadLockAsync(env, ct), await store.ReadFreezeAsync(env, ct), await store.ReadQuarantineAsync(env, ct),
                live.Services, live.Toggles);
            var output = p.InvocationConfiguration.Output;
            await output.WriteAsync(common.Json(p) ? JsonSerializer.Serialize(view, ReconcilerJson.Options) + "\n" : RenderShow(view));
            return ExitCodes.Ok;
        }));
        return c;
    }

    /// <summary>The JSON shape of <c>state show --format json</c> (ReconcilerJson dialect).</summary>
    internal sealed record StateView(
        string Environment, string Store, long Version, string? LastGoodCommit, LockInfo? Lock, FreezeInfo? Freeze,
        IReadOnlyList<QuarantinedCommit> Quarantined,
        IReadOnlyDictionary<string, LiveService> Services, IReadOnlyDictionary<string, LiveToggle> Toggles);

    internal static string RenderShow(StateView v)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"environment  {v.Environment}\n");
        sb.Append(CultureInfo.InvariantCulture, $"store        {v.Store}\n");
        sb.Append(CultureInfo.InvariantCulture, $"version      {v.Version}\n");
        sb.Append(CultureInfo.InvariantCulture, $"last good    {v.LastGoodCommit ?? "(none)"}\n");
        sb.Append("lock         ").Append(v.Lock is { } l
            ? $"held by {l.Owner} since {Time(l.AcquiredAt)}, expires {Time(l.ExpiresAt)}: {l.Reason}" : "free").Append('\n');
        sb.Append("freeze       ").Append(v.Freeze is { } f ? $"frozen by {f.By} since {Time(f.At)}: {f.Reason}" : "not frozen").Append('\n');
        sb.Append(CultureInfo.InvariantCulture, $"quarantined  {v.Quarantined.Count}\n");
        foreach (var q in v.Quarantined)
            sb.Append(CultureInfo.InvariantCulture, $"  {q.Commit}  {Time(q.At)}  {q.Reason}\n");
        sb.Append(CultureInfo.InvariantCulture, $"services     {v.Services.Count}\n");
        var nameWidth = v.Services.Keys.Select(k => k.Length).DefaultIfEmpty(0).Max();
        var versionWidth = v.Services.Values.Select(s => s.Version.Length).DefaultIfEmpty(0).Max();
        foreach (var s in v.Services.Values)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  {s.Name.PadRight(nameWidth)}  {s.Version.PadRight(versionWidth)}  release {s.ReleaseId}  config {Short(s.ConfigHash)}  commit {Short(s.Commit)}\n");
            foreach (var h in s.Hosts.Values)
                sb.Append(CultureInfo.InvariantCulture, $"    {h.Host}  {h.ActiveRelease}{(h.PreviousRelease is { } prev ? $"  (previous {prev})" : "")}\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"toggles      {v.Toggles.Count}\n");
        var toggleWidth = v.Toggles.Keys.Select(k => k.Length).DefaultIfEmpty(0).Max();
        foreach (var t in v.Toggles.Values)
            sb.Append(CultureInfo.InvariantCulture, $"  {t.Name.PadRight(toggleWidth)}  {(t.Enabled ? "on " : "off")}  commit {Short(t.Commit)}\n");
        return sb.ToString();
    }

    private static Command History()
    {
        var c = new Command("history", "Show an environment's deploy history, newest first.");
        var common = new Common();
        common.AddTo(c);
        var limit = new Option<int>("--limit") { Description = "How many entries to show.", DefaultValueFactory = _ => 20 };
        c.Options.Add(limit);
        c.SetAction((p, ct) => CliRunner.RunAsync(p.InvocationConfiguration.Error, async () =>
        {
            var env = common.EnvName(p);
            var n = p.GetValue(limit);
            if (n <= 0) throw new UserError($"--limit must be a positive number, got {n}.");
            await using var store = common.OpenStore(p);
            var entries = await store.ReadHistoryAsync(env, n, ct);
            var output = p.InvocationConfiguration.Output;
            await output.WriteAsync(common.Json(p) ? JsonSerializer.Serialize(entries, ReconcilerJson.Options) + "\n" : Views.StatusView.RenderHistoryText(env, entries));
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Command Lock()
    {
        var c = new Command("lock", "Lock an environment so that no other apply runs there until it is unlocked or the TTL runs out.");
        var common = new Common();
        common.AddTo(c);
        var reason = new Option<string>("--reason") { Description = "Why (shown to anyone who hits the lock).", Required = true };
        var ttl = new Option<string>("--ttl") { Description = "How long the lock lasts unless renewed: e.g. 90s, 30m, 2h (at most 24h).", DefaultValueFactory = _ => "1h" };
        var owner = new Option<string?>("--owner") { Description = "Who holds the lock. Default: USER@HOST." };
        c.Options.Add(reason);
        c.Options.Add(ttl);
        c.Options.Add(owner);
        c.SetAction((p, ct) => CliRunner.RunAsync(p.InvocationConfiguration.Error, async () =>
        {
            var env = common.EnvName(p);
            var span = ParseTtl(p.GetValue(ttl)!);
            var who = p.GetValue(owner) ?? DefaultOwner();
            await using var store = common.OpenStore(p);
            var attempt = await store.TryAcquireLockAsync(env, who, p.GetValue(reason)!, span, ct);
            if (!attempt.Acquired) throw LockedBy(attempt.Holder);
            await Write(p, common, attempt.Holder,
                $"locked environment '{env}' for {attempt.Holder.Owner} until {Time(attempt.Holder.ExpiresAt)}: {attempt.Holder.Reason}\n");
            return ExitCodes.Ok;
        }));
        return c;
    }

    internal static UserError LockedBy(LockInfo holder) => new(
        $"environment '{holder.Environment}' is locked by {holder.Owner} since {Time(holder.AcquiredAt)} (expires {Time(holder.ExpiresAt)}): {holder.Reason}. " +
        $"Wait for it, ask {holder.Owner}, or break it with `reconciler state unlock --env {holder.Environment} --force`.", ExitCodes.LockedOrFrozen);

    private static Command Unlock()
    {
        var c = new Command("unlock", "Release an environment's lock (yours, or anyone's with --force).");
        var common = new Common();
        common.AddTo(c);
        var owner = new Option<string?>("--owner") { Description = "Whose lock to release. Default: USER@HOST." };
        var force = new Option<bool>("--force") { Description = "Release the lock whoever holds it." };
        c.Options.Add(owner);
        c.Options.Add(force);
        c.SetAction((p, ct) => CliRunner.RunAsync(p.InvocationConfiguration.Error, async () =>
        {
            var env = common.EnvName(p);
            var who = p.GetValue(owner) ?? DefaultOwner();
            await using var store = common.OpenStore(p);
            var held = await store.ReadLockAsync(env, ct);
            if (held is null)
            {
                await Write(p, common, new { environment = env, released = false, heldBy = (string?)null }, $"environment '{env}' is not locked\n");
                return ExitCodes.Ok;
            }
            if (held.Owner != who && !p.GetValue(force))
                throw new UserError($"environment '{env}' is locked by {held.Owner}, not by {who}: {held.Reason}. " +
                                    $"Use --owner {held.Owner}, or --force to break it.", ExitCodes.LockedOrFrozen);
            var released = await store.ReleaseLockAsync(env, who, p.GetValue(force), ct);
            await Write(p, common, new { environment = env, released, heldBy = held.Owner },
                released ? $"unlocked environment '{env}' (was held by {held.Owner})\n" : $"environment '{env}' is not locked\n");
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Command Freeze()
    {
        var c = new Command("freeze", "Freeze an environment: applies are refused until it is unfrozen.");
        var common = new Common();
        common.AddTo(c);
        var reason = new Option<string>("--reason") { Description = "Why (shown to anyone whose apply is refused).", Required = true };
        var by = new Option<string?>("--by") { Description = "Who froze it. Default: USER@HOST." };
        c.Options.Add(reason);
        c.Options.Add(by);
        c.SetAction((p, ct) => CliRunner.RunAsync(p.InvocationConfiguration.Error, async () =>
        {
            var env = common.EnvName(p);
            var text = p.GetValue(reason)!;
            if (string.IsNullOrWhiteSpace(text)) throw new UserError("--reason must not be empty: say why the environment is frozen.");
            await using var store = common.OpenStore(p);
            var freeze = new FreezeInfo(text, p.GetValue(by) ?? DefaultOwner(), TimeProvider.System.GetUtcNow());
            await store.SetFreezeAsync(env, freeze, ct);
            await Write(p, common, freeze, $"froze environment '{env}': {freeze.Reason}\n");
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Command Unfreeze()
    {
        var c = new Command("unfreeze", "Lift an environment's freeze.");
        var common = new Common();
        common.AddTo(c);
        c.SetAction((p, ct) => CliRunner.RunAsync(p.InvocationConfiguration.Error, async () =>
        {
            var env = common.EnvName(p);
            await using var store = common.OpenStore(p);
            var was = await store.ReadFreezeAsync(env, ct);
            await store.SetFreezeAsync(env, null, ct);
            await Write(p, common, new { environment = env, wasFrozen = was is not null },
                was is null ? $"environment '{env}' was not frozen\n" : $"unfroze environment '{env}' (was frozen by {was.By}: {was.Reason})\n");
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Task Write<T>(ParseResult p, Common common, T json, string text) =>
        p.InvocationConfiguration.Output.WriteAsync(common.Json(p) ? JsonSerializer.Serialize(json, ReconcilerJson.Options) + "\n" : text);

    internal static TimeSpan ParseTtl(string text)
    {
        var t = text.Trim();
        if (t.Length >= 2 && long.TryParse(t[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            TimeSpan? span = t[^1] switch
            {
                's' => TimeSpan.FromSeconds(n), 'm' => TimeSpan.FromMinutes(n), 'h' => TimeSpan.FromHours(n), 'd' => TimeSpan.FromDays(n), _ => null,
            };
            if (span is { } s && s <= TimeSpan.FromHours(24)) return s;
            if (span is not null) throw new UserError($"--ttl {text} is longer than 24h; lock for at most 24h and renew (Consul sessions last at most 24h).");
        }
        throw new UserError($"--ttl '{text}' is not a duration: use a positive number with s, m or h, e.g. 90s, 30m, 2h.");
    }

    internal static string DefaultOwner() => $"{Environment.UserName}@{Environment.MachineName}";

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    private static string Short(string hashOrCommit) => hashOrCommit.Length > 12 ? hashOrCommit[..12] : hashOrCommit;
}
