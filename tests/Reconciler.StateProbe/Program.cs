using Reconciler.State;

// Usage: Reconciler.StateProbe journal-then-hang STATE_URL REPO ENV APPLY_ID
// Appends three journal entries of one apply (step 1 started and finished, step 2 started), prints "ready", then waits
// to be killed (at most 60 s, so a test that forgets it leaves nothing running).
if (args is not ["journal-then-hang", var url, var repo, var env, var applyId])
{
    Console.Error.WriteLine("usage: Reconciler.StateProbe journal-then-hang STATE_URL REPO ENV APPLY_ID");
    return 2;
}
await using var store = StateStores.Open(url, repo, TimeProvider.System);
var at = DateTimeOffset.UtcNow;
await store.AppendJournalAsync(new JournalEntry(env, applyId, "c0ffee", "w1/api/host/web-1/upload", JournalStatus.Started, at, null), CancellationToken.None);
await store.AppendJournalAsync(new JournalEntry(env, applyId, "c0ffee", "w1/api/host/web-1/upload", JournalStatus.Finished, at, null), CancellationToken.None);
await store.AppendJournalAsync(new JournalEntry(env, applyId, "c0ffee", "w1/api/host/web-1/activate", JournalStatus.Started, at, null), CancellationToken.None);
Console.Out.WriteLine("ready");
Console.Out.Flush();
await Task.WhenAny(Task.Run(Console.In.ReadLine), Task.Delay(TimeSpan.FromSeconds(60)));
return 0;
