using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.State;

// A child process for the state store tests (not shipped).
//   journal-then-hang STATE_URL REPO ENV APPLY_ID
//     Appends three journal entries of one apply (step 1 started and finished, step 2 started), prints "ready", then waits
//     to be killed.
//   cas-write STATE_URL REPO ENV EXPECTED_VERSION SERVICE_VERSION
//     Prints "ready", waits for a line on stdin (so that two probes start their write together), writes service "api" at
//     SERVICE_VERSION with compare-and-set on EXPECTED_VERSION, prints "won NEW_VERSION" (exit 0) or the conflict message
//     (exit 5).
// Every wait is bounded (60 s), so a test that forgets a probe leaves nothing running.
var ct = CancellationToken.None;
switch (args)
{
    case ["journal-then-hang", var url, var repo, var env, var applyId]:
    {
        await using var store = StateStores.Open(url, repo, TimeProvider.System);
        var at = DateTimeOffset.UtcNow;
        await store.AppendJournalAsync(new JournalEntry(env, applyId, "c0ffee", "w1/api/host/web-1/upload", JournalStatus.Started, at, null), ct);
        await store.AppendJournalAsync(new JournalEntry(env, applyId, "c0ffee", "w1/api/host/web-1/upload", JournalStatus.Finished, at, null), ct);
        await store.AppendJournalAsync(new JournalEntry(env, applyId, "c0ffee", "w1/api/host/web-1/activate", JournalStatus.Started, at, null), ct);
        Console.Out.WriteLine("ready");
        Console.Out.Flush();
        await WaitForStdin();
        return 0;
    }
    case ["cas-write", var url, var repo, var env, var expected, var version]:
    {
        await using var store = StateStores.Open(url, repo, TimeProvider.System);
        await store.ReadAsync(env, ct);   // open and initialize before the race starts
        Console.Out.WriteLine("ready");
        Console.Out.Flush();
        await WaitForStdin();
        var service = new LiveService("api", version, $"api-{version}", "cfg", "c0ffee", [],
            ImmutableSortedDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal),
            ImmutableSortedDictionary<string, LiveHost>.Empty.WithComparers(StringComparer.Ordinal));
        try
        {
            var written = await store.WriteAsync(env, long.Parse(expected), new StateChange([service], [], [], []), ct);
            Console.Out.WriteLine($"won {written}");
            return 0;
        }
        catch (StateConflictException e)
        {
            Console.Out.WriteLine(e.Message);
            return 5;   // what `reconciler` exits with for a lost compare-and-set (docs/cli.md)
        }
    }
    default:
        Console.Error.WriteLine("usage: Reconciler.StateProbe journal-then-hang STATE_URL REPO ENV APPLY_ID | cas-write STATE_URL REPO ENV EXPECTED_VERSION SERVICE_VERSION");
        return 2;
}

static Task WaitForStdin() => Task.WhenAny(Task.Run(Console.In.ReadLine), Task.Delay(TimeSpan.FromSeconds(60)));
