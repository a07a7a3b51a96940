// Step 1: the settings of a fine-tuning run (ratsnlp's ClassificationTrainArguments):
// defaults <- a JSON file <- --set overrides, every field checked. Notebook 01-settings.
export {
  DEFAULT_SETTINGS, describeSettings, loadSettings, makeSettings, parseSetArgs, saveSettings, settingAccepts, settingsConflicts,
  settingsFromCli, SETTINGS_FIELD_NAMES, SETTINGS_FIELDS, SETTINGS_RESUME_FREE, SETTINGS_SCHEMA, suggestField, validateSettings,
  type Settings, type SettingsField, type SettingsFieldName, type SettingsGroup, type SettingsRow,
} from './settings';
// The schema machinery (one declaration per field), shared with the pretraining settings (step 3a).
export {
  closestField, defineSchema, field, parseSetPairs, readSettingsJson, ruleAccepts, SettingsSchema, validateFields, withDefaults,
  type FieldRow, type FieldRule, type FieldSpec, type FieldSpecs, type CrossCheck, type FieldTable, type GroupOf, type SchemaOptions, type SettingType,
  type ValuesOf,
} from './schema';
// The fields fine-tuning and pretraining share (optimizer, run, mirrors).
export { BF16_FIELD, MIRROR_FIELDS, OPTIMIZER_FIELDS, RUN_FIELDS } from './shared-fields';
