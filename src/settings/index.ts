// Step 1: the settings of a fine-tuning run (ratsnlp's ClassificationTrainArguments):
// defaults <- a JSON file <- --set overrides, every field checked. Notebook 01-settings.
export {
  DEFAULT_SETTINGS, describeSettings, loadSettings, makeSettings, parseSetArgs, saveSettings, settingAccepts, settingsFromCli,
  SETTINGS_FIELD_NAMES, SETTINGS_FIELDS, validateSettings,
  type Settings, type SettingsField, type SettingsFieldName, type SettingsGroup, type SettingsRow,
} from './settings';
// The field-table machinery, shared with the pretraining settings (step 3a).
export { closestField, parseSetPairs, readSettingsJson, validateFields, type FieldRule, type FieldTable } from './settings';
