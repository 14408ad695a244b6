using System.Diagnostics;

namespace Reconciler.Engine.Tests.State;

/// <summary>Runs a built program of this solution (reconciler, the state probe) as a real child process with bounded waits.</summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;

    private ChildProcess(Process process, bool readStdout)
    {
        _process = process;
        _stdout = readStdout ? process.StandardOutput.ReadToEndAsync() : Task.FromResult("");
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p ? p : "dotnet";

    public static string Reconciler => Path.Combine(AppContext.BaseDirectory, "reconciler.dll");
    public static string StateProbe => Path.Combine(AppContext.BaseDirectory, "Reconciler.StateProbe.dll");

    /// <summary>The shipped executable to test instead of <c>dotnet exec reconciler.dll</c>: scripts/test.sh sets it to
    /// the Native AOT build of scripts/publish.sh and runs the tests that start the CLI (trait Runs=Executable) again.</summary>
    public static string? ExecutableUnderTest => Environment.GetEnvironmentVariable("RECONCILER_TEST_EXECUTABLE") is { Length: > 0 } e ? e : null;

    /// <summary>A start of the reconciler CLI with <paramref name="args"/>: the executable under test, or the built dll.</summary>
    public static ProcessStartInfo ReconcilerStartInfo(IEnumerable<string> args) => StartInfo(Reconciler, args);

    private static ProcessStartInfo StartInfo(string dll, IEnumerable<string> args)
    {
        var native = dll == Reconciler ? ExecutableUnderTest : null;
        var psi = new ProcessStartInfo(native ?? Dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (native is null)
        {
            psi.ArgumentList.Add("exec");
            psi.ArgumentList.Add(dll);
        }
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    public static ChildProcess Start(string dll, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null, bool readStdout = true)
    {
        var psi = StartInfo(dll, args);
        psi.Environment.Remove("CONSUL_HTTP_TOKEN");
        psi.Environment.Remove("RECONCILER_STATE");
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>()) psi.Environment[k] = v;
        return new ChildProcess(Process.Start(psi)!, readStdout);
    }

    public static async Task<(int Code, string Out, string Err)> RunAsync(string dll, IEnumerable<string> args,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        using var p = Start(dll, args, environment);
        return await p.WaitAsync(TimeSpan.FromSeconds(60));
    }

    public async Task<(int Code, string Out, string Err)> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"child process did not exit within {timeout}");
        }
        return (_process.ExitCode, await _stdout, await _stderr);
    }

    /// <summary>Reads stdout line by line until <paramref name="line"/> appears (bounded).</summary>
    public async Task WaitForLineAsync(string line, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var next = await _process.StandardOutput.ReadLineAsync(cts.Token)
                       ?? throw new InvalidOperationException($"child exited before printing '{line}': {await _stderr}");
            if (next == line) return;
        }
    }

    /// <summary>Writes one line to the child's stdin (e.g. a go signal).</summary>
    public async Task SendLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Reads stdout to the end and waits for exit (for a child started with readStdout: false).</summary>
    public async Task<(int Code, string Out, string Err)> WaitReadingAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var output = await _process.StandardOutput.ReadToEndAsync(cts.Token);
        var (code, _, err) = await WaitAsync(timeout);
        return (code, output, err);
    }

    /// <summary>SIGKILL: the process gets no chance to clean up, as in a crash.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
