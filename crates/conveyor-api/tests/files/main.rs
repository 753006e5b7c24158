//! The files API end to end: a real server on a free port, on the local store and on S3 via
//! a real moto_server, driven over HTTP as a tenant's client and a browser would.

mod cases;
mod harness;
mod local_only;
mod s3_only;
mod security;

/// Every case runs on both stores.
macro_rules! on_both_stores {
    ($module:ident: $($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let app = crate::harness::App::local().await;
                    crate::$module::$case(&app).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let app = crate::harness::App::s3().await;
                    crate::$module::$case(&app).await;
                }
            )*
        }
    };
}

mod both {
    on_both_stores!(cases:
        upload_then_download_metadata_and_ranges,
        upload_multiple_then_list_and_page,
        folders_are_created_listed_and_deleted_with_a_count,
        copy_move_and_delete,
        browser_upload_through_a_presigned_form_then_presigned_download,
        tenants_cannot_reach_each_other,
        every_path_taking_endpoint_refuses_traversal,
        tokens_are_verified_on_every_endpoint,
        oversized_uploads_are_refused_and_leave_nothing,
    );
}
