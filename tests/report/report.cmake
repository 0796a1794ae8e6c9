# The HTML report (engine/report/): parsed with libxml2 (a test-only
# dependency, scripts/setup.sh); the browser test renders it with a headless
# chromium when one is installed and is SKIPPED otherwise.
find_package(LibXml2 REQUIRED)
sxb_test(test_html_report LABELS cpu)
target_link_libraries(test_html_report PRIVATE LibXml2::LibXml2)
sxb_test(test_report_browser LABELS browser)
