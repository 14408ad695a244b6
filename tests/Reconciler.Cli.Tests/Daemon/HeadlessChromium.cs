using System.Runtime.CompilerServices;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Chromium;

namespace Reconciler.Cli.Tests.Daemon;

/// <summary>
/// Debian's headless Chromium driven through its own chromedriver (apt packages `chromium` and `chromium-driver`,
/// installed by scripts/install-deps.sh) with Selenium.WebDriver. Both binaries are given by path, so Selenium never
/// looks for or downloads a browser. JavaScript is switched off: the page must work without it. Without the browser
/// the tests fail (never skip), locally and in CI alike, and say how to install it.
/// </summary>
internal sealed class HeadlessChromium : IDisposable
{
    private static readonly string[] BrowserPaths = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"];
    private static readonly string[] DriverPaths = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];

    private readonly string _profile = Directory.CreateTempSubdirectory("reconciler-chromium-").FullName;

    public ChromeDriver Driver { get; }

    /// <param name="phone">A phone's width (390 CSS pixels, as an iPhone 12-15) instead of a desk's; tall, so that a
    /// screenshot shows the whole page.</param>
    public HeadlessChromium(bool phone = false)
    {
        var browser = BrowserPaths.FirstOrDefault(File.Exists);
        var driver = DriverPaths.FirstOrDefault(File.Exists);
        if (browser is null || driver is null)
            throw new Xunit.Sdk.XunitException("headless Chromium is not installed (looked for " + string.Join(", ", BrowserPaths.Concat(DriverPaths)) +
                                               "). Install Debian's chromium and chromium-driver: scripts/install-deps.sh (or apt-get install chromium chromium-driver).");
        var options = new ChromeOptions { BinaryLocation = browser };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
            "--disable-extensions", "--hide-scrollbars", "--force-device-scale-factor=1", $"--user-data-dir={_profile}",
            phone ? "--window-size=390,1800" : "--window-size=1280,1900");   // tall: a screenshot holds the whole page
        // JavaScript off for every page: the content setting blocks page scripts (WebDriver's own commands still work).
        options.AddUserProfilePreference("profile.managed_default_content_settings.javascript", 2);
        if (phone)
            options.EnableMobileEmulation(new ChromiumMobileEmulationDeviceSettings
            {
                Width = 390, Height = 1800, PixelRatio = 1, EnableTouchEvents = true,
                UserAgent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
            });
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driver)!, Path.GetFileName(driver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        Driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        Driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);
    }

    /// <summary>Saves what the browser shows: into docs/images when UPDATE_SCREENSHOTS=1 (the
    /// pictures docs/cli/run.md shows), else beside the test output (CI keeps them as artifacts).</summary>
    public string Screenshot(string name, [CallerFilePath] string callerFile = "")
    {
        var directory = Environment.GetEnvironmentVariable("UPDATE_SCREENSHOTS") is "1" or "true"
            ? Path.GetFullPath(Path.Combine(Path.GetDirectoryName(callerFile)!, "..", "..", "..", "docs", "images"))
            : Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name);
        Driver.GetScreenshot().SaveAsFile(path);
        return path;
    }

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
        try { Directory.Delete(_profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
